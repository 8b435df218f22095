"""JSON logs carrying a ``correlation_id`` across RPC calls and events.

The id lives in a thread-local, which ``eventlet.monkey_patch()`` makes green-thread-local, so each
worker sees its own. ``shared.service.Correlation`` puts it into each nameko worker's context
data, which nameko sends along with every RPC call the worker makes. This module imports no
framework, so plain processes (the image server) can use it.

Under eventlet, locks made after monkey patching are *green*: only green threads of the hub's
OS thread may wait on them. A log call from another OS thread (an ``eventlet.tpool`` thread,
one of libvips's own worker threads) that meets a held handler lock parks itself on a hub of
its own that nobody runs, and its release wakes waiters on a hub nobody runs: every green thread
that logs afterwards waits forever (issue #14, ADR 0055). So the service handler takes a real OS
lock (its ``emit`` never yields), and libvips's messages, which pyvips would hand to
``logging`` from whatever thread emits them, go through a thread-safe queue that a green
thread empties (``route_vips_logs``).
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
from datetime import UTC, datetime
from queue import Empty, SimpleQueue
from typing import Any

_local = threading.local()

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def current_correlation_id() -> str | None:
    return getattr(_local, "correlation_id", None)


def set_correlation_id(value: str | None) -> None:
    _local.correlation_id = value


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, correlation id and extras."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = current_correlation_id()
        if cid:
            entry["correlation_id"] = cid
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _os_rlock() -> Any:
    """A re-entrant lock of the OS, even after ``eventlet.monkey_patch()``."""
    try:
        from eventlet import patcher
    except ImportError:  # a plain process: threading is the OS's already
        return threading.RLock()
    return patcher.original("threading").RLock()


class ThreadSafeStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler whose lock is the OS's, not a green one: a record logged from any OS
    thread is written, and a green thread holding the lock never yields (the stream is a plain
    blocking file), so a waiter is never parked on a hub that will not wake it."""

    def createLock(self) -> None:  # noqa: N802 - logging's naming
        self.lock = _os_rlock()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON logs to stderr; keeps other loggers (nameko's tracebacks) enabled."""
    handler = ThreadSafeStreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    noisy = ("amqp", "kombu", "urllib3", "botocore", "werkzeug", "sqlalchemy.engine", "pyvips")
    for name in noisy:
        logging.getLogger(name).setLevel(logging.WARNING)


# libvips and pyvips messages ----------------------------------------------------------------------

# GLib levels (gmessages.h) → logging levels, as pyvips maps them
_GLIB_LEVELS = {1 << 2: 40, 1 << 3: 50, 1 << 4: 30, 1 << 5: 20, 1 << 6: 20, 1 << 7: 10}
_GLIB_ALL = 0xFC | 0x3  # every level, fatal and recursive flags
# records waiting for the hub: (level, text) from libvips, LogRecords from pyvips's Python side;
# a SimpleQueue's put takes no lock a green thread could hold
_pending: SimpleQueue[tuple[int, str] | logging.LogRecord] = SimpleQueue()
_vips_route: dict[str, Any] = {}


def _on_vips_message(domain: Any, level: int, message: Any, user_data: Any) -> None:
    """GLib's log callback, on whatever thread libvips logs from: only a queue put (no lock,
    no logging, nothing green), so it is safe on libvips's and tpool's threads alike."""
    try:
        import pyvips

        text = f"{pyvips.ffi.string(domain).decode(errors='replace')}: "
        text += pyvips.ffi.string(message).decode(errors="replace")
        _pending.put((_GLIB_LEVELS.get(level & 0xFC, 20), text))
    except BaseException:  # noqa: BLE001, S110 - a C callback must never raise
        pass


class _Deferred(logging.Handler):
    """The ``pyvips`` logger's only handler (it does not propagate): records, logged from any
    thread (pyvips's Python code runs in tpool threads too), wait in the queue for the hub."""

    def createLock(self) -> None:  # noqa: N802 - logging's naming
        self.lock = _os_rlock()

    def emit(self, record: logging.LogRecord) -> None:
        _pending.put(record)


def drain_vips_messages() -> int:
    """Hand the queued libvips and pyvips messages to the root logger's handlers, from the
    calling (hub) thread; how many."""
    vips_log, root = logging.getLogger("pyvips"), logging.getLogger()
    count = 0
    while True:
        try:
            item = _pending.get_nowait()
        except Empty:
            return count
        if isinstance(item, logging.LogRecord):
            root.handle(item)
        elif vips_log.isEnabledFor(item[0]):
            root.handle(vips_log.makeRecord("pyvips", item[0], "libvips", 0, item[1], (), None))
        count += 1


def _drain_forever(interval: float) -> None:
    import eventlet

    while True:
        eventlet.sleep(interval)
        drain_vips_messages()


def _remove_vips_route() -> None:
    handler_id = _vips_route.pop("id", None)
    if handler_id:
        import pyvips

        pyvips.glib_lib.g_log_remove_handler(b"VIPS", handler_id)


def route_vips_logs(interval: float = 0.5) -> None:
    """Keep libvips's and pyvips's log messages off the threads that emit them: both go into
    a thread-safe queue that a green thread of the calling hub empties into the root
    logger's handlers. pyvips's own GLib handler (removed here) called ``logging`` from
    libvips's worker threads, and pyvips's Python code logs (a deprecated argument, at INFO)
    from the tpool thread running it. Idempotent; call it from the hub's thread of an
    eventlet process (a plain threaded process needs none of this)."""
    if "id" in _vips_route:
        return
    import eventlet
    import pyvips

    vips_log = logging.getLogger("pyvips")
    vips_log.handlers[:] = [_Deferred()]
    vips_log.propagate = False
    pyvips._remove_log_handler()  # noqa: SLF001 - pyvips offers no other way to detach it
    callback = pyvips.ffi.callback("GLogFunc", _on_vips_message)
    _vips_route["callback"] = callback  # kept alive as long as GLib may call it
    _vips_route["id"] = pyvips.glib_lib.g_log_set_handler(
        b"VIPS", _GLIB_ALL, callback, pyvips.ffi.NULL
    )
    _vips_route["drainer"] = eventlet.spawn(_drain_forever, interval)
    atexit.register(_remove_vips_route)
