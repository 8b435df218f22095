"""A small HTTP/1.1 client for webhook POSTs: kept-alive connections per subscription.

Webhook delivery needs one thing — POST a body to a checked address and learn the status —
so this client does just that, in one ``sendall`` per request, and reads the status line and
headers and at most 64 KB of the answer. It is about half the CPU of urllib3 per request,
which matters at hundreds of deliveries a second (``docs/benchmarks.md``, Webhooks).

- It connects to the address checked against SSRF (never resolves the name again itself);
  ``Host`` and the TLS server name (certificate checked) are the URL's host.
- A connection is reused only after a complete answer with ``Content-Length`` and without
  ``Connection: close``; a chunked or unbounded answer closes it after its headers.
- A kept-alive connection the receiver closed meanwhile is retried once on a fresh one (the
  request may then arrive twice: receivers dedupe on the event id anyway).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from services.notifications import domain

MAX_HEAD = 64 * 1024
MAX_ANSWER = 64 * 1024


class AnswerError(OSError):
    """The receiver's answer is not HTTP/1.x or was cut off."""


@dataclass
class _Conn:
    sock: Any
    buffer: bytearray = field(default_factory=bytearray)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Sender:
    """POSTs over kept-alive connections, at most ``per_subscription`` idle ones per owner."""

    def __init__(self, settings: domain.WebhookSettings) -> None:
        self.settings = settings
        self.idle: dict[tuple[str, str, str, int, str], list[_Conn]] = {}
        self._tls: ssl.SSLContext | None = None

    def _connect(self, target: domain.Target, address: str) -> _Conn:
        sock = socket.create_connection(
            (address, target.port), timeout=self.settings.connect_timeout_seconds
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            sock = self._tls.wrap_socket(sock, server_hostname=target.host)
        sock.settimeout(self.settings.timeout_seconds)
        return _Conn(sock)

    def post(
        self,
        owner: str,
        target: domain.Target,
        address: str,
        body: bytes,
        headers: dict[str, str],
    ) -> int:
        """POST ``body``; the answer's status. ``owner`` (the subscription) has its own
        connections, so one receiver's slow answers never hold another's."""
        key = (owner, target.scheme, address, target.port, target.host)
        pool = self.idle.setdefault(key, [])
        name = f"[{target.host}]" if ":" in target.host else target.host  # IPv6 literal
        host = name if target.port in (80, 443) else f"{name}:{target.port}"
        lines = [f"POST {target.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        request = "\r\n".join(lines).encode("latin-1", "replace") + body
        conn = pool.pop() if pool else None
        reused = conn is not None
        if conn is None:
            conn = self._connect(target, address)
        try:
            status, keep = self._exchange(conn, request)
        except (AnswerError, ConnectionError) as exc:
            conn.close()
            if not reused or (isinstance(exc, AnswerError) and conn.buffer):
                raise
            conn = self._connect(target, address)  # the receiver closed an idle connection
            try:
                status, keep = self._exchange(conn, request)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        if keep and len(pool) < self.settings.per_subscription:
            pool.append(conn)
        else:
            conn.close()
        return status

    def _exchange(self, conn: _Conn, request: bytes) -> tuple[int, bool]:
        conn.buffer.clear()
        conn.sock.sendall(request)
        while True:
            status, version, headers = self._head(conn)
            if status >= 200:
                break
            # 1xx: an interim answer, the real one follows
        keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        length = headers.get("content-length")
        if "transfer-encoding" in headers or length is None or not length.isdigit():
            return status, False
        remaining = int(length)
        if remaining > MAX_ANSWER:
            return status, False
        while len(conn.buffer) < remaining:
            chunk = conn.sock.recv(65536)
            if not chunk:
                return status, False
            conn.buffer += chunk
        extra = len(conn.buffer) > remaining  # more than the answer: do not reuse
        conn.buffer.clear()
        return status, keep and not extra

    def _head(self, conn: _Conn) -> tuple[int, str, dict[str, str]]:
        while True:
            end = conn.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(conn.buffer) > MAX_HEAD:
                raise AnswerError("the answer's headers are larger than 64 KB")
            chunk = conn.sock.recv(65536)
            if not chunk:
                raise AnswerError("connection closed before an answer")
            conn.buffer += chunk
        head = bytes(conn.buffer[:end]).decode("latin-1")
        del conn.buffer[: end + 4]
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise AnswerError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), parts[0], headers

    def close(self) -> None:
        for pool in self.idle.values():
            for conn in pool:
                conn.close()
        self.idle.clear()
