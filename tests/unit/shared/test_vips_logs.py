"""libvips and pyvips messages never take a green lock off the hub's thread (issue #14).

Under ``eventlet.monkey_patch()`` a handler's lock is green; a real OS thread that logs while a
green thread holds it parks itself on a hub nobody runs, and the lock's waiters are then never
woken. ``route_vips_logs`` queues those messages for a green thread of the hub instead.
"""

from __future__ import annotations

import logging

import eventlet
import pytest
import pyvips

from shared import logs

real_threading = eventlet.patcher.original("threading")


class Recorder(logging.Handler):
    """Keeps each record and the OS thread that handed it to a handler (green lock)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), real_threading.get_ident()))


@pytest.fixture
def recorder():
    handler = Recorder()
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logs.route_vips_logs(interval=0.05)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved)


def _in_os_thread(target) -> bool:
    """Run ``target`` in a real OS thread; whether it finished within five seconds."""
    thread = real_threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(5)
    return not thread.is_alive()


def test_pyvips_logging_from_an_os_thread_does_not_wait_for_a_held_green_lock(recorder):
    hub = real_threading.get_ident()
    recorder.acquire()  # a green thread of the hub is writing a record
    try:
        finished = _in_os_thread(
            lambda: logging.getLogger("pyvips.voperation").info("jpegsave argument strip")
        )
    finally:
        recorder.release()
    assert finished, "the OS thread waited on the handler's green lock"
    logs.drain_vips_messages()
    assert ("jpegsave argument strip", hub) in recorder.seen


def test_libvips_messages_from_its_worker_threads_reach_handlers_on_the_hub(recorder):
    hub = real_threading.get_ident()

    def pyramid() -> None:
        image = pyvips.Image.black(1200, 900)
        image.tiffsave_buffer(tile=True, pyramid=True, compression="jpeg")

    # libvips reports its thread pools only when it runs several workers; an earlier test in
    # this process (the image server's set-up) may have left it at one
    saved = pyvips.concurrency_get()
    pyvips.concurrency_set(2)
    recorder.acquire()
    try:
        assert _in_os_thread(pyramid), "libvips's threads waited on the handler's green lock"
    finally:
        recorder.release()
        pyvips.concurrency_set(saved)
    eventlet.sleep(0.2)  # the drainer's turn
    logs.drain_vips_messages()
    vips = [(message, thread) for message, thread in recorder.seen if message.startswith("VIPS")]
    assert vips, recorder.seen
    assert {thread for _, thread in vips} == {hub}
