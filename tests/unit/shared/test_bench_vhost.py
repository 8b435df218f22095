"""Benchmarks run on a vhost of their own, never the development stack's nor a test suite's
(issue 14: a benchmark's events reached the stack's handlers)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import BENCH_VHOST, bench_env
from disan.cli import env as stack_env_module
from disan.cli import infra


def test_bench_env_swaps_the_stacks_vhost_for_the_benchmarks_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, str]] = []
    stack_vhost = {"DISAN_AMQP_URI": "amqp://guest:pw@127.0.0.1:5672/disan", "DISAN_X": "1"}
    monkeypatch.setattr(stack_env_module, "stack_env", lambda p: dict(stack_vhost))
    monkeypatch.setattr(stack_env_module, "paths", lambda: None)
    monkeypatch.setattr(infra, "ensure_vhost", lambda vhost, user: made.append((vhost, user)))
    env: dict[str, Any] = bench_env()
    assert env["DISAN_AMQP_URI"] == f"amqp://guest:pw@127.0.0.1:5672/{BENCH_VHOST}"
    assert env["DISAN_X"] == "1"
    assert made == [(BENCH_VHOST, "guest")]
    assert BENCH_VHOST not in ("disan", "/") and not BENCH_VHOST.startswith("disan_test")


def test_no_benchmark_names_the_stacks_vhost_or_a_test_vhost() -> None:
    from tests.conftest import ROOT

    for script in (ROOT / "bench").glob("[!_]*.py"):  # not bench_env itself
        text = script.read_text("utf-8")
        assert "stack_env(paths())" not in text, script.name
        assert ":5672/disan_test" not in text and ':5672/disan"' not in text, script.name
