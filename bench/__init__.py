"""Benchmarks, run on demand. They never use the development stack's vhost (``disan``) nor a
test suite's: :func:`bench_env` gives them the stack's environment with a vhost of their own, so
a benchmark's events, dead letters and unrouted events never reach a running stack (issue 14).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

BENCH_VHOST = "disan_bench"


def bench_env() -> dict[str, str]:
    """The development stack's environment (its database and secrets) with the benchmarks'
    own RabbitMQ vhost, created (and granted) where the local broker is ours to administer."""
    from disan.cli import infra
    from disan.cli.env import paths, stack_env

    env = stack_env(paths())
    amqp = urlsplit(env["DISAN_AMQP_URI"])
    env["DISAN_AMQP_URI"] = urlunsplit(amqp._replace(path=f"/{BENCH_VHOST}"))
    infra.ensure_vhost(BENCH_VHOST, amqp.username or "guest")
    return env
