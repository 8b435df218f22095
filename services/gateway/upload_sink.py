"""Streaming an upload into the sink media opened for it: plain HTTP, no bucket, no S3 client.

Media owns ``masters``; the gateway only holds a sink (``open_upload``) and PUTs the file's
parts, ``part_size`` bytes each, to the presigned URLs media hands out in batches, computing the
SHA-256 on the way. One part is in memory at a time.
Why: ``docs/decisions/0056-media-upload-sink.md``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from shared.errors import PayloadTooLarge, Unavailable
from shared.rpc_client import ServiceClient

log = logging.getLogger(__name__)

URL_BATCH = 16  # part URLs asked for at a time: one RPC per 128 MB of 8 MB parts
PUT_TIMEOUT = (5.0, 120.0)  # connect, read: one part of 8 MB
MAX_PARTS = 10_000  # S3's limit on the parts of one upload


class Reader(Protocol):
    def read(self, n: int = -1) -> bytes: ...


@dataclass(frozen=True)
class Written:
    """What was streamed into a sink: its byte count and SHA-256 (hex)."""

    size: int
    sha256: str


def _read_part(reader: Reader, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the stream."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = reader.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _put(session: requests.Session, url: str, data: bytes, number: int) -> None:
    try:
        answer = session.put(url, data=data, timeout=PUT_TIMEOUT)
    except requests.RequestException as exc:
        raise Unavailable(
            f"media storage did not take part {number} of the upload ({exc})"
        ) from exc
    if answer.status_code >= 300:
        raise Unavailable(
            f"media storage refused part {number} of the upload (HTTP {answer.status_code})"
        )


def write(media: ServiceClient, opened: dict[str, Any], reader: Reader) -> Written:
    """Stream ``reader`` to the sink ``opened`` (``open_upload``'s answer), part by part."""
    sink, part_size = opened["sink"], int(opened["part_size"])
    digest, size, number = hashlib.sha256(), 0, 1
    urls: list[str] = []
    with requests.Session() as session:
        while True:
            data = _read_part(reader, part_size)
            if not data and number > 1:
                break
            if not urls:
                if number > MAX_PARTS:
                    raise PayloadTooLarge(
                        f"a file is at most {MAX_PARTS} parts of {part_size} bytes"
                    )
                count = min(URL_BATCH, MAX_PARTS + 1 - number)
                urls = list(media.call("upload_part_urls", sink, number, count))
            digest.update(data)
            size += len(data)
            _put(session, urls.pop(0), data, number)
            number += 1
            if len(data) < part_size:
                break
    return Written(size, digest.hexdigest())


def discard(media: ServiceClient, opened: dict[str, Any]) -> None:
    """Ask media to remove a sink that will not be registered (logged, never raised: the
    refusal matters more, and media's orphan sweep removes what is left)."""
    try:
        media.call("discard_upload", opened["sink"])
    except Exception:  # noqa: BLE001
        log.exception("could not discard upload sink %s", opened["sink"].get("key"))
