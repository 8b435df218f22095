"""Prometheus metrics for every entrypoint: latency, errors, work in flight."""

from __future__ import annotations

import time
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram

_METRICS: dict[str, tuple[Histogram, Counter, Gauge]] = {}

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def service_metrics(service: str) -> tuple[Histogram, Counter, Gauge]:
    """The three entrypoint metrics of ``service``, created once per process."""
    if service not in _METRICS:
        prefix = f"disan_{service}"
        _METRICS[service] = (
            Histogram(
                f"{prefix}_entrypoint_seconds",
                "Entrypoint latency",
                ["entrypoint"],
                buckets=LATENCY_BUCKETS,
            ),
            Counter(
                f"{prefix}_entrypoint_errors_total", "Entrypoint errors", ["entrypoint", "error"]
            ),
            Gauge(f"{prefix}_entrypoint_in_flight", "Workers running", ["entrypoint"]),
        )
    return _METRICS[service]


class Metrics(DependencyProvider):  # type: ignore[misc]
    """Times each worker and counts its errors; the values are served on the ops port."""

    def setup(self) -> None:
        self.latency, self.errors, self.in_flight = service_metrics(self.container.service_name)
        self.started: dict[Any, float] = {}

    def worker_setup(self, worker_ctx: Any) -> None:
        self.started[worker_ctx] = time.perf_counter()
        self.in_flight.labels(worker_ctx.entrypoint.method_name).inc()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        name = worker_ctx.entrypoint.method_name
        if exc_info is not None:
            self.errors.labels(name, exc_info[0].__name__).inc()

    def worker_teardown(self, worker_ctx: Any) -> None:
        name = worker_ctx.entrypoint.method_name
        start = self.started.pop(worker_ctx, None)
        if start is not None:
            self.latency.labels(name).observe(time.perf_counter() - start)
        self.in_flight.labels(name).dec()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
