"""``disan``: the platform's one console command."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from shared.config import ConfigError


def _service_run(name: str) -> int:
    from shared.runner import SERVICES

    spec = SERVICES.get(name)
    if spec is None:
        print(f"unknown service {name!r}; known: {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    if spec.kind == "nameko":
        import eventlet

        eventlet.monkey_patch()
    from shared.config import load_settings
    from shared.logs import configure_logging
    from shared.runner import run_service

    configure_logging(name)
    run_service(spec, load_settings())
    return 0


def _dlq(args: argparse.Namespace) -> int:
    from shared.cli.stack import paths, stack_env
    from shared.config import load_settings
    from shared.dlq import list_parked, replay

    settings = load_settings(env=stack_env(paths()))
    which = "unrouted" if args.unrouted else "dead_letters"
    if args.action == "list":
        items = [m.summary() for m in list_parked(settings.amqp_uri, which, args.limit)]
        if args.json:
            print(json.dumps(items, indent=2, ensure_ascii=False))
        else:
            print(f"{len(items)} message(s) in {which}")
            for m in items:
                print(
                    f"  {m['message_id']}  {m['event_type']}  queue={m['queue']} "
                    f"attempts={m['attempts']}  error={m['error']}"
                )
        return 0
    if not args.all and not args.id:
        print("say which: --id ID (repeatable) or --all", file=sys.stderr)
        return 2
    done = replay(settings.amqp_uri, which, set(args.id) if args.id else None)
    print(f"replayed {len(done)} message(s) from {which}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="disan", description="Disan heritage platform")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole platform locally and print its URLs")
    up.add_argument("--timeout", type=float, default=180)
    sub.add_parser("down", help="stop what `disan up` started")
    st = sub.add_parser("status", help="health of each service, queue depths, dead letters")
    st.add_argument("--json", action="store_true")
    sub.add_parser("infra", help="make sure PostgreSQL, RabbitMQ and Redis run (for tests)")
    sub.add_parser("migrate", help="create schemas, apply migrations, declare queues")
    svc = sub.add_parser("service", help="run one service in the foreground")
    svc.add_argument("action", choices=["run"])
    svc.add_argument("name")
    dlq = sub.add_parser("dlq", help="list or replay dead letters (or unrouted events)")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("--id", action="append", help="message or event id to replay")
    dlq.add_argument("--all", action="store_true", help="replay every parked message")
    dlq.add_argument("--unrouted", action="store_true", help="the unrouted events instead")
    dlq.add_argument("--limit", type=int, default=1000)
    dlq.add_argument("--json", action="store_true")
    from services.access.cli import add_parsers

    add_parsers(sub)
    from services.catalogue.cli import add_parsers as add_catalogue_parsers

    add_catalogue_parsers(sub)
    from services.media.cli import add_parsers as add_media_parsers

    add_media_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "service":
            return _service_run(args.name)
        from shared.cli import stack

        if args.command == "up":
            return stack.up(args.timeout)
        if args.command == "down":
            return stack.down()
        if args.command == "status":
            return stack.status(args.json)
        if args.command == "infra":
            return stack.infra_up()
        if args.command == "migrate":
            from shared.config import load_settings

            stack.migrate_all(load_settings(env=stack.stack_env(stack.paths())))
            return 0
        if args.command == "dlq":
            return _dlq(args)
        if args.command in ("user", "apikey"):
            from services.access.cli import run
            from shared.config import load_settings

            return run(args, load_settings(env=stack.stack_env(stack.paths())))
        if args.command in ("import", "export"):
            from services.catalogue.cli import run as run_catalogue
            from shared.config import load_settings

            return run_catalogue(args, load_settings(env=stack.stack_env(stack.paths())))
        if args.command in ("fixity", "media"):
            from services.media.cli import run as run_media
            from shared.config import load_settings

            return run_media(args, load_settings(env=stack.stack_env(stack.paths())))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
