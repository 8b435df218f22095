"""``disan``: the platform's one console command."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from shared.config import ConfigError, Settings

# Before any import of eventlet (which imports dnspython): dnspython's DSA module annotates with
# classes cryptography deprecates, which printed four CryptographyDeprecationWarning lines first
# on every command. Matched by message and module, so any other warning still shows.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"dns\.dnssecalgs\.dsa")


def _service_run(name: str) -> int:
    from disan.registry import SERVICES

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


def _stack_settings() -> Settings:
    """The settings of the local stack (its environment completed with development secrets)."""
    from disan.cli.env import paths, stack_env
    from shared.config import load_settings

    return load_settings(env=stack_env(paths()))


def _dlq(args: argparse.Namespace) -> int:
    from shared.dlq import list_parked, replay

    settings = _stack_settings()
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
        from disan.cli import stack

        if args.command == "up":
            return stack.up(args.timeout)
        if args.command == "down":
            return stack.down()
        if args.command == "status":
            return stack.status(args.json)
        if args.command == "infra":
            return stack.infra_up()
        if args.command == "migrate":
            from disan.cli.provision import migrate_all

            migrate_all(_stack_settings())
            return 0
        if args.command == "dlq":
            return _dlq(args)
        if args.command in ("user", "apikey"):
            from services.access.cli import run

            return run(args, _stack_settings())
        if args.command in ("import", "export"):
            from services.catalogue.cli import run as run_catalogue

            return run_catalogue(args, _stack_settings())
        if args.command in ("fixity", "media"):
            from services.media.cli import run as run_media

            return run_media(args, _stack_settings())
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
