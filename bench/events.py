"""Events per second: outbox → relay → reliable handler, beside raw kombu publish → consume.

Run:  .venv/bin/python bench/events.py [--events 20000] [--json results.json]

Both pipelines run on the same broker in one run. The raw kombu pipeline publishes persistent
messages to one durable queue and consumes them with acks in another process: the ceiling. The
Disan pipeline is the path services use: a producing service process (``--producers`` replicas)
commits events to its outbox (``--producer-batch`` per transaction) while its ``OutboxRelay``
publishes them with confirms; consumer service processes (``--consumers``) run a reliable
handler that claims each event id and applies an effect in PostgreSQL. Latency is from the
event's creation to the commit of its effect. Lost or duplicated effects are counted. CPU is the
user+system time of the benchmark's own processes per event (broker and database not included),
a figure that stays meaningful when other work loads the machine.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kombu import Connection, Exchange, Producer, Queue  # noqa: E402
from marshmallow import Schema, fields  # noqa: E402
from sqlalchemy import text  # noqa: E402

from shared.bus import declare_base, declare_queue  # noqa: E402
from shared.config import load_settings  # noqa: E402
from shared.consumer import handler_queues, reliable_handler  # noqa: E402
from shared.db import Database, make_engine, migrate, unit_of_work  # noqa: E402
from shared.events import contract, make_event  # noqa: E402
from shared.outbox import OutboxRelay  # noqa: E402
from shared.runner import nameko_config  # noqa: E402
from shared.service import DisanService  # noqa: E402

EVENT = "bench.item_recorded"
PRODUCER, CONSUMER = "bench_producer", "bench_consumer"


@contract(EVENT)
class ItemRecorded(Schema):
    n = fields.Integer(required=True)
    created = fields.Float(required=True)


def consumer_class(batch: int, bulk: bool = False) -> type:
    """The benchmark's consumer: one reliable handler applying an effect per event, with one
    statement per event, or (``bulk``) one statement per batch."""

    class BenchConsumer(DisanService):
        name = CONSUMER
        db = Database(CONSUMER, pool_size=20)

        if bulk:

            @reliable_handler(EVENT, batch=batch, bulk=True)
            def handle_item_recorded(self, events):
                self.db.execute(
                    "INSERT INTO effects (n, latency) "
                    "SELECT n, extract(epoch from clock_timestamp()) - c "
                    "FROM unnest(CAST(:ns AS integer[]), CAST(:cs AS float8[])) AS t(n, c)",
                    {
                        "ns": [e.data["n"] for e in events],
                        "cs": [e.data["created"] for e in events],
                    },
                )

        else:

            @reliable_handler(EVENT, batch=batch)
            def handle_item_recorded(self, event):
                self.db.execute(
                    "INSERT INTO effects (n, latency) "
                    "VALUES (:n, extract(epoch from clock_timestamp()) - :c)",
                    {"n": event.data["n"], "c": event.data["created"]},
                )

    return BenchConsumer


class BenchProducer(DisanService):
    name = PRODUCER
    relay = OutboxRelay(PRODUCER)


def settings_env() -> dict[str, str]:
    from bench import bench_env

    return bench_env()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


# roles run in subprocesses -------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def _profiler() -> Any:
    """A CPU profile of this role's process, if ``DISAN_BENCH_PROFILE`` names a directory."""
    if not os.environ.get("DISAN_BENCH_PROFILE"):
        return None
    import cProfile

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    return profiler


def _dump_profile(profiler: Any, name: str) -> None:
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{os.environ['DISAN_BENCH_PROFILE']}/{name}-{os.getpid()}.prof")


def run_producer(first: int, last: int, producer_batch: int) -> None:
    """A producing service: its relay runs while it commits events ``first``..``last - 1``."""
    from nameko.containers import ServiceContainer

    settings = load_settings(env=settings_env())
    config = nameko_config(settings, PRODUCER)
    config["DISAN_OPS_PORT"] = 0
    relay = ServiceContainer(BenchProducer, config)
    relay.start()
    engine = make_engine(settings.database_url, PRODUCER, pool_size=2)
    profiler = _profiler()
    print("ready", flush=True)
    sys.stdin.readline()  # go
    for start in range(first, last, producer_batch):
        with unit_of_work(engine) as session:
            session.publish(
                *(
                    make_event(EVENT, {"n": i, "created": time.time()}, producer=PRODUCER)
                    for i in range(start, min(start + producer_batch, last))
                )
            )
    print("committed", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: eventlet.spawn_n(relay.stop))
    relay.wait()
    engine.dispose()
    _dump_profile(profiler, f"producer-{first}")


def run_consumer(workers: int, batch: int, bulk: bool, prefill: bool = False) -> None:
    from nameko.containers import ServiceContainer

    settings = load_settings(env=settings_env())
    config = nameko_config(settings, CONSUMER, max_workers=workers)
    config["DISAN_OPS_PORT"] = 0
    container = ServiceContainer(consumer_class(batch, bulk), config)
    signal.signal(signal.SIGTERM, lambda *_: eventlet.spawn_n(container.stop))
    if prefill:  # start consuming only once every event waits in the queue
        print("ready", flush=True)
        sys.stdin.readline()
    container.start()
    profiler = _profiler()
    if not prefill:
        print("ready", flush=True)
    container.wait()
    _dump_profile(profiler, f"consumer-batch{batch}{'-bulk' if bulk else ''}")


def run_raw_consumer(n: int, amqp_uri: str, queue_name: str) -> None:
    latencies: list[float] = []
    queue = Queue(queue_name, durable=True)
    with Connection(amqp_uri) as conn:

        def on_message(body, message):
            latencies.append(time.time() - body["created"])
            message.ack()

        with conn.Consumer(queue, callbacks=[on_message], prefetch_count=200):
            print("ready", flush=True)
            while len(latencies) < n:
                conn.drain_events(timeout=60)
    print(json.dumps(latencies), flush=True)


# pipelines -----------------------------------------------------------------------------------


def bench_raw(n: int, amqp_uri: str) -> dict[str, float]:
    queue_name = f"bench.raw.{uuid.uuid4().hex[:8]}"
    exchange = Exchange("", type="direct")
    with Connection(amqp_uri) as conn:
        Queue(queue_name, durable=True).bind(conn.default_channel).declare()
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            "raw-consumer",
            "--events",
            str(n),
            "--queue",
            queue_name,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    cpu_before = cpu_seconds(proc.pid) + cpu_seconds(os.getpid())
    start = time.time()
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.default_channel, exchange=exchange)
        for i in range(n):
            producer.publish(
                {"n": i, "created": time.time()},
                routing_key=queue_name,
                delivery_mode=2,
                serializer="json",
            )
    latencies = json.loads(proc.stdout.readline())
    elapsed = time.time() - start
    cpu = cpu_seconds(proc.pid) + cpu_seconds(os.getpid()) - cpu_before
    proc.wait(30)
    with Connection(amqp_uri) as conn:
        conn.default_channel.queue_delete(queue_name)
    return {
        "events": n,
        "seconds": elapsed,
        "rate": n / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "lost": n - len(latencies),
        "duplicated": 0,
        "cpu_us": cpu / n * 1e6,
    }


def bench_disan(
    n: int,
    producer_batch: int,
    workers: int,
    consumers: int,
    producers: int,
    batch: int,
    bulk: bool = False,
    prefill: bool = False,
) -> dict[str, float]:
    env = settings_env()
    settings = load_settings(env=env)
    admin = make_engine(settings.database_url, "public", pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PRODUCER} CASCADE"))
        conn.execute(text(f"DROP SCHEMA IF EXISTS {CONSUMER} CASCADE"))
    admin.dispose()
    migrate(settings.database_url, PRODUCER)
    migrate(settings.database_url, CONSUMER)
    consumer_engine = make_engine(settings.database_url, CONSUMER, pool_size=2)
    with consumer_engine.begin() as conn:
        conn.execute(text("CREATE TABLE effects (n integer NOT NULL, latency double precision)"))
    with Connection(settings.amqp_uri) as conn:
        declare_base(conn)
        for queue in handler_queues(CONSUMER, consumer_class(1)):
            declare_queue(conn, queue)
            conn.default_channel.queue_purge(queue.name)

    def spawn(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    consumer_procs = [
        spawn(
            "--role",
            "consumer",
            "--workers",
            str(workers),
            "--batch",
            str(batch),
            *(["--effects", "bulk"] if bulk else []),
            *(["--prefill"] if prefill else []),
        )
        for _ in range(consumers)
    ]
    share = -(-n // producers)
    producer_procs = [
        spawn(
            "--role",
            "producer",
            "--range",
            str(first),
            str(min(first + share, n)),
            "--producer-batch",
            str(producer_batch),
        )
        for first in range(0, n, share)
    ]
    procs = consumer_procs + producer_procs
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    cpu_before = {p.pid: cpu_seconds(p.pid) for p in procs}

    start = time.time()
    for proc in producer_procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in producer_procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "committed"
    committed = time.time() - start
    if prefill:
        queue_name = handler_queues(CONSUMER, consumer_class(1))[0].name
        with Connection(settings.amqp_uri) as conn:
            while conn.default_channel.queue_declare(queue_name, passive=True).message_count < n:
                time.sleep(0.1)
        committed = time.time() - start
        for proc in consumer_procs:
            cpu_before[proc.pid] = cpu_seconds(proc.pid)
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        start = time.time()  # events/s: of consuming alone
    deadline = time.time() + 600
    count = 0
    while time.time() < deadline:
        with consumer_engine.connect() as conn:
            count = int(conn.execute(text("SELECT count(*) FROM effects")).scalar_one())
        if count >= n:
            break
        time.sleep(0.1)
    elapsed = time.time() - start
    used = {p.pid: cpu_seconds(p.pid) - cpu_before[p.pid] for p in procs}
    cpu = sum(used.values())
    print(
        f"  batch={batch}{' bulk' if bulk else ''}: events "
        f"{'relayed' if prefill else 'committed to the outbox'} in "
        f"{committed:.2f}s{', then consumed' if prefill else ''}, "
        f"all effects in {elapsed:.2f}s; CPU µs/event: producers+relays "
        f"{sum(used[p.pid] for p in producer_procs) / n * 1e6:.0f}, consumers "
        f"{sum(used[p.pid] for p in consumer_procs) / n * 1e6:.0f}",
        file=sys.stderr,
    )
    time.sleep(1.0)  # let any duplicate arrive before counting
    with consumer_engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*), count(DISTINCT n) FROM effects")).one()
        latencies = [r[0] for r in conn.execute(text("SELECT latency FROM effects"))]
    for proc in procs:
        proc.terminate()
        proc.wait(60)
    consumer_engine.dispose()
    return {
        "events": n,
        "seconds": elapsed,
        "rate": count / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "lost": n - rows[1],
        "duplicated": rows[0] - rows[1],
        "cpu_us": cpu / n * 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--producer-batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=20, help="workers per consumer process")
    parser.add_argument("--consumers", type=int, default=1, help="competing consumer processes")
    parser.add_argument(
        "--producers", type=int, default=1, help="producing service processes (each with a relay)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1, 100],
        help="handler batch sizes to measure (1 = one transaction per event)",
    )
    parser.add_argument(
        "--effects",
        nargs="+",
        choices=["each", "bulk"],
        default=["each"],
        help="handler effects to measure: one statement per event (each), or one per batch "
        "(bulk: a bulk handler, batch sizes > 1 only)",
    )
    parser.add_argument(
        "--prefill",
        action="store_true",
        help="consumers start once every event waits in their queue (their CPU alone, full "
        "batches; for comparing consumer changes, not the end-to-end goal)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--role", choices=["consumer", "raw-consumer", "producer"], help=argparse.SUPPRESS
    )
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    parser.add_argument("--range", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "producer":
        run_producer(args.range[0], args.range[1], args.producer_batch)
        return 0
    if args.role == "consumer":
        run_consumer(args.workers, args.batch[0], "bulk" in args.effects, args.prefill)
        return 0
    if args.role == "raw-consumer":
        run_raw_consumer(args.events, load_settings(env=settings_env()).amqp_uri, args.queue)
        return 0

    env = settings_env()
    os.environ.update(env)
    settings = load_settings(env=env)
    from disan.cli.provision import provision

    provision(settings)
    raw = bench_raw(args.events, settings.amqp_uri)
    runs = {
        f"outbox→relay→handler batch={b}{' bulk' if effect == 'bulk' else ''}": bench_disan(
            args.events,
            args.producer_batch,
            args.workers,
            args.consumers,
            args.producers,
            b,
            effect == "bulk",
            args.prefill,
        )
        for b in args.batch
        for effect in args.effects
        if effect == "each" or b > 1
    }
    print(
        f"\n{'pipeline':<41}{'events':>8}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'lost':>6}{'dup':>5}{'ratio':>7}{'CPU µs/ev':>11}"
    )
    rows = {"raw kombu publish→consume": raw, **runs}
    for name, r in rows.items():
        r["ratio"] = r["rate"] / raw["rate"]
        print(
            f"{name:<41}{r['events']:>8}{r['rate']:>10.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['lost']:>6}{r['duplicated']:>5}{r['ratio']:>7.2f}{r['cpu_us']:>11.0f}"
        )
    print("\ngoal: ratio ≥ 0.50, nothing lost or duplicated")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "runs": rows,
                    "producer_batch": args.producer_batch,
                    "workers": args.workers,
                    "consumers": args.consumers,
                    "producers": args.producers,
                    "events": args.events,
                    "effects": args.effects,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    return 0 if all(r["lost"] == 0 and r["duplicated"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
