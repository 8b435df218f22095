"""A loopback HTTP/1.1 burst client, run as its own process (``python -m``) because asyncio
does not mix with the eventlet monkey-patching of the test process.

``python -m tests.integration.imageserver.burst PORT PATH CONNECTIONS PER_CONNECTION`` opens
CONNECTIONS sockets at once; each asks PATH PER_CONNECTION times over keep-alive. It prints
one JSON line: every status with its count, how many answers lacked ``Access-Control-Allow-
Origin: *``, the distinct bodies (SHA-256 and size), the head and body of the first answer of
each status other than 200, and the failures (connection closed or refused, by kind).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import sys
from typing import Any

#: A bound against a hang, not a speed check (10,000 answers take a few seconds here).
DEADLINE = 240.0


async def burst(port: int, path: str, connections: int, per_connection: int) -> dict[str, Any]:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    statuses: collections.Counter[int] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    bodies: dict[str, int] = {}
    samples: dict[str, dict[str, str]] = {}
    no_cors = 0

    async def one() -> None:
        nonlocal no_cors
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            failures[f"connect: {type(exc).__name__}"] += 1
            return
        try:
            for _ in range(per_connection):
                writer.write(request)
                head = (await reader.readuntil(b"\r\n\r\n")).lower()
                length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                body = await reader.readexactly(length)
                status = int(head.split(b" ", 2)[1])
                statuses[status] += 1
                if status != 200 and str(status) not in samples:
                    samples[str(status)] = {
                        "head": head.decode("latin-1"),
                        "body": body[:2000].decode("utf-8", "replace"),
                    }
                no_cors += b"\r\naccess-control-allow-origin: *\r\n" not in head
                bodies[hashlib.sha256(body).hexdigest()] = len(body)
                if b"\r\nconnection: close\r\n" in head:
                    break
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as exc:
            failures[f"read: {type(exc).__name__}"] += 1
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(connections))), DEADLINE)
    return {
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "no_cors": no_cors,
        "bodies": bodies,
        "samples": samples,
        "failures": dict(failures),
    }


def main(argv: list[str]) -> int:
    port, path, connections, per_connection = argv
    result = asyncio.run(burst(int(port), path, int(connections), int(per_connection)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
