"""Readiness names workers that make no progress (``shared.ops.stuck_workers``)."""

from __future__ import annotations

from shared import ops


def test_workers_without_progress_for_longer_than_the_limit_are_named():
    quick = ops.Running("get_asset", started=100.0, last=100.0)
    stuck = ops.Running("handle_asset_ingested", started=0.0, last=10.0)
    assert ops.stuck_workers([quick], 30, now=120.0) == "ok"
    answer = ops.stuck_workers([quick, stuck], 30, now=120.0)
    assert answer.startswith("1 worker(s) without progress for more than 30s")
    assert "handle_asset_ingested for 110s" in answer


def test_progress_marked_from_another_thread_keeps_a_long_worker_ready():
    running = ops.Running("handle_asset_ingested", started=0.0, last=0.0)
    ops._current.running = running
    try:
        mark = ops.progress_marker()
        mark()  # as libvips's eval signal does, from its own thread
    finally:
        ops._current.running = None
    assert running.last > 0.0
    assert ops.stuck_workers([running], 30, now=running.last + 1) == "ok"
    ops.progress()  # outside a worker: nothing to mark, no error
