"""JSON logs carrying a ``correlation_id`` across RPC calls and events.

The id lives in a thread-local, which ``eventlet.monkey_patch()`` makes green-thread-local, so each
worker sees its own. ``shared.service.Correlation`` puts it into each nameko worker's context
data, which nameko sends along with every RPC call the worker makes. This module imports no
framework, so plain processes (the image server) can use it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
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


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON logs to stderr; keeps other loggers (nameko's tracebacks) enabled."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "urllib3", "botocore", "werkzeug", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
