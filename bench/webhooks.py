"""Webhook deliveries per second to 50 loopback subscribers, one of them hanging; delivery delay.

Run:  .venv/bin/python bench/webhooks.py [--events 400] [--paced-rate 8] [--json out.json]

A notifications service (its journal handler and delivery loop, in this process) serves 50
subscriptions to ``catalogue.record_published``; the receivers are 50 HTTP/1.1 servers on
loopback in another process (asyncio, keep-alive), one of which reads the request and never
answers. Two phases:

- burst: ``--events`` events published at once (×49 answering subscribers): deliveries/s from
  the first publish to the last answered delivery;
- paced: ``--paced-events`` events at ``--paced-rate`` per second: delay from the event's
  ``occurred_at`` to its arrival at each answering receiver (p50, p99, max).

Goal (issue 8): ≥ 500 deliveries/s, and the hanging subscriber does not push the others' p99
beyond 1 s. The dev stack's database and broker are used (``disan up`` or ``disan infra``);
names are unique per run and removed afterwards.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import sys  # noqa: E402

if "--receivers" not in sys.argv:  # the receivers' process runs asyncio, unpatched
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUBSCRIBERS = 50


# the receivers (a separate process) ------------------------------------------------------------


def run_receivers(ports: list[int], hanging: int, out: str) -> None:
    """Serve every port; record (port, arrival, occurred_at) per answered request."""
    arrivals: list[tuple[int, float, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if port == hanging:
                    await asyncio.sleep(3600)
                arrived = time.time()
                occurred = json.loads(body)["occurred_at"]
                arrivals.append((port, arrived, occurred))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = []
        for port in ports:
            servers.append(
                await asyncio.start_server(
                    lambda r, w, p=port: handle(r, w, p), "127.0.0.1", port, backlog=512
                )
            )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        Path(out).write_text(json.dumps(arrivals))

    asyncio.run(main())


# the benchmark ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None  # reported as null (NaN is not JSON)
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def ms(seconds: float | None) -> float | None:
    """Seconds as rounded milliseconds; None (no answered delivery to measure) stays None."""
    return None if seconds is None else round(seconds * 1000, 1)


def delays(arrivals: list[list], since: float, hanging: int) -> list[float]:
    out = []
    for port, arrived, occurred in arrivals:
        occurred_ts = datetime.fromisoformat(occurred.replace("Z", "+00:00")).timestamp()
        if port != hanging and occurred_ts >= since:
            out.append(arrived - occurred_ts)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400, help="burst events (×49 deliveries)")
    parser.add_argument("--paced-events", type=int, default=200)
    parser.add_argument("--paced-rate", type=float, default=8.0, help="events per second")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--per-subscription", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    parser.add_argument(
        "--no-hanging", action="store_true", help="control run: all 50 receivers answer"
    )
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--receivers", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receivers:
        spec = json.loads(args.receivers)
        run_receivers(spec["ports"], spec["hanging"], spec["out"])
        return 0

    from kombu import Connection
    from nameko.containers import ServiceContainer
    from sqlalchemy import text

    from bench import bench_env
    from disan.cli.provision import provision
    from disan.registry import SERVICES
    from services.notifications.service import NotificationsService
    from shared.bus import ConfirmingPublisher
    from shared.config import load_settings
    from shared.consumer import handler_queues
    from shared.db import Database, make_engine, migrate
    from shared.events import make_event
    from shared.outbox import OutboxRelay, to_outgoing
    from shared.runner import nameko_config

    def stop_on_term(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop_on_term)  # still clean up the queue and schema
    env = bench_env()
    settings = load_settings(env=env)
    provision(settings)
    unique = "bench" + uuid.uuid4().hex[:6]
    name = schema = f"{unique}_notifications"
    extra = dict(settings.extra)
    extra["notifications"] = {
        "webhooks": {
            "allow_loopback": True,
            "timeout_seconds": args.timeout,
            "connect_timeout_seconds": 2.0,
            "concurrency": args.concurrency,
            "per_subscription": args.per_subscription,
            "retry_base_seconds": 30,
            "pause_after_failures": 1000,
        }
    }
    settings = dataclasses.replace(settings, extra=extra)
    migrate(settings.database_url, schema, SERVICES["notifications"].migrations)
    cls = type(
        "BenchNotifications",
        (NotificationsService,),
        {"name": name, "db": Database(schema, pool_size=20), "relay": OutboxRelay(schema)},
    )
    with Connection(settings.amqp_uri) as conn:
        for queue in handler_queues(name, cls):
            queue.bind(conn.default_channel).declare()

    ports = free_ports(SUBSCRIBERS)
    hanging = -1 if args.no_hanging else ports[-1]
    answering = SUBSCRIBERS if args.no_hanging else SUBSCRIBERS - 1
    out = f"/tmp/{unique}-arrivals.json"
    receivers = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--receivers",
            json.dumps({"ports": ports, "hanging": hanging, "out": out}),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receivers.stdout is not None and receivers.stdout.readline().strip() == "ready"
    config = nameko_config(settings, name, max_workers=20) | {"DISAN_OPS_PORT": 0}
    container = ServiceContainer(cls, config)
    container.start()
    engine = make_engine(settings.database_url, schema, pool_size=2)
    publisher = ConfirmingPublisher(settings.amqp_uri)
    actor = {"kind": "api_key", "id": "bench", "name": "bench", "roles": ["partner"]}
    results: dict[str, object] = {}
    try:
        from nameko.standalone.rpc import ServiceRpcProxy

        with ServiceRpcProxy(name, {"AMQP_URI": settings.amqp_uri}) as rpc:
            for port in ports:
                rpc.create_subscription(
                    actor,
                    {
                        "url": f"http://127.0.0.1:{port}/hook",
                        "events": ["catalogue.record_published"],
                        "secret": "bench-secret-0123456789",
                    },
                )

        def event() -> dict:
            return make_event(
                "catalogue.record_published",
                {
                    "record_id": str(uuid.uuid4()),
                    "inventory_number": "HP-BENCH",
                    "heritage_class": "tangible_site",
                    "version": 1,
                    "state": "published",
                    "title": {"vi": "Đình thử", "en": "Bench"},
                },
                producer="bench",
            ).to_dict()

        def delivered() -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
                    ).scalar_one()
                )

        # burst
        good = args.events * answering
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.time()
        batch = [to_outgoing(event()) for _ in range(args.events)]
        publisher.publish(batch)
        deadline = time.monotonic() + 600
        while delivered() < good and time.monotonic() < deadline:
            time.sleep(0.2)
        burst_done = delivered()
        burst_seconds = time.time() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
            cpu_after.ru_stime - cpu_before.ru_stime
        )
        # paced
        paced_start = time.time()
        for _ in range(args.paced_events):
            publisher.publish([to_outgoing(event())])
            time.sleep(1.0 / args.paced_rate)
        want = good + args.paced_events * answering
        deadline = time.monotonic() + 120
        while delivered() < want and time.monotonic() < deadline:
            time.sleep(0.2)
        with engine.connect() as conn:
            timed_out = conn.execute(
                text("SELECT count(*) FROM delivery_attempts WHERE error = 'timed out'")
            ).scalar_one()
            # where the paced events' delay goes: bus + journal handler, then the delivery loop
            stages = conn.execute(
                text(
                    "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY "
                    "extract(epoch FROM j.recorded_at - j.occurred_at)), "
                    "percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY "
                    "extract(epoch FROM a.at - j.recorded_at)) "
                    "FROM journal j JOIN deliveries d ON d.event_id = j.event_id "
                    "JOIN delivery_attempts a ON a.delivery_id = d.id AND a.attempt = 1 "
                    "WHERE j.occurred_at >= to_timestamp(:t) AND a.status = 200"
                ),
                {"t": paced_start},
            ).one()
    finally:
        container.stop()
        publisher.close()
        receivers.send_signal(signal.SIGTERM)
        receivers.wait(30)
        with Connection(settings.amqp_uri) as conn:
            for queue in handler_queues(name, cls):
                conn.default_channel.queue_delete(queue.name)
        engine.dispose()
        admin = make_engine(settings.database_url, "public", pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    arrivals = json.loads(Path(out).read_text())
    Path(out).unlink()
    burst_arrivals = [a for a in arrivals if a[1] <= started + burst_seconds]
    last = max((a[1] for a in burst_arrivals), default=started)
    paced = delays(arrivals, paced_start, hanging)
    results = {
        "subscribers": SUBSCRIBERS,
        "hanging": 0 if args.no_hanging else 1,
        "burst_events": args.events,
        "burst_deliveries": burst_done,
        "burst_seconds": round(last - started, 2),
        "deliveries_per_second": round(burst_done / max(last - started, 1e-9), 1),
        # CPU of this process (journal, delivery loop, HTTP client) per delivery: the figure
        # that stays meaningful when other work loads the machine
        "cpu_ms_per_delivery": round(cpu * 1000 / max(burst_done, 1), 3),
        "deliveries_per_cpu_second": round(burst_done / max(cpu, 1e-9), 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "paced_events": args.paced_events,
        "paced_rate_events_per_s": args.paced_rate,
        "paced_deliveries": len(paced),
        "delay_p50_ms": ms(percentile(paced, 50)),
        "delay_p99_ms": ms(percentile(paced, 99)),
        "delay_max_ms": ms(max(paced, default=None)),
        # percentile_cont over no rows (no paced delivery answered) is NULL, not an array
        "journal_p50_ms": ms((stages[0] or [None, None])[0]),
        "journal_p99_ms": ms((stages[0] or [None, None])[1]),
        "journal_to_recorded_answer_p50_ms": ms((stages[1] or [None, None])[0]),
        "journal_to_recorded_answer_p99_ms": ms((stages[1] or [None, None])[1]),
        "hanging_timeouts": int(timed_out),
        "concurrency": args.concurrency,
        "per_subscription": args.per_subscription,
        "timeout_s": args.timeout,
        "cpus": os.cpu_count(),
    }
    width = max(len(k) for k in results)
    print(f"{'measure'.ljust(width)}  value")
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
