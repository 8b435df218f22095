"""Prometheus metrics of the image server, shared by its worker processes.

The server sets ``PROMETHEUS_MULTIPROC_DIR`` before starting workers, so each worker writes its
samples there and ``/metrics`` (on the ops port and the HTTP port) adds them up.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE_LATEST", "ImageMetrics", "image_metrics", "render_metrics"]

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class ImageMetrics:
    requests: Counter
    response_bytes: Counter
    tile_cache: Counter
    images: Counter
    decode_seconds: Histogram
    source_fetch_seconds: Histogram


@functools.cache
def image_metrics() -> ImageMetrics:
    """The metrics, created once per process (never at import)."""
    return ImageMetrics(
        requests=Counter("disan_imageserver_requests_total", "HTTP requests", ["route", "status"]),
        response_bytes=Counter(
            "disan_imageserver_response_bytes_total", "Response body bytes sent", ["route"]
        ),
        tile_cache=Counter("disan_imageserver_tile_cache_total", "Tile cache lookups", ["result"]),
        images=Counter(
            "disan_imageserver_images_total",
            "Images served by origin: passthrough (stored tile), render (decoded) or cache; "
            "passthrough ratio = passthrough / sum",
            ["origin"],
        ),
        decode_seconds=Histogram(
            "disan_imageserver_decode_seconds", "Decode, scale and encode time", buckets=_SECONDS
        ),
        source_fetch_seconds=Histogram(
            "disan_imageserver_source_fetch_seconds",
            "Time to fetch a pyramid from S3 into the source cache",
            buckets=_SECONDS,
        ),
    )


def render_metrics() -> bytes:
    """Every worker's samples in the text exposition format."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))
    return bytes(generate_latest(REGISTRY))
