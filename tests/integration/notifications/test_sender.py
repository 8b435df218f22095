"""The webhook sender against scripted HTTP answers on a real loopback socket: kept-alive
connections, a receiver that closed an idle one, chunked and oversized answers, garbage."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest

from services.notifications import domain
from services.notifications.sender import AnswerError, Sender

pytestmark = pytest.mark.integration

Script = Callable[[socket.socket, int], bool]  # answer request n; False closes the connection


class ScriptedServer:
    """Accepts connections and answers each request as the script says."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            if self.stopping:
                # closed by the thread that reads it: with eventlet, closing a socket another
                # green thread waits on leaves a stale reader on a file descriptor that the
                # next socket (someone else's) reuses
                conn.close()
                self.sock.close()
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest[:length])
                buffer = rest[length:]
                if not self.script(conn, len(self.requests)):
                    return

    def close(self) -> None:
        self.stopping = True
        socket.create_connection(("127.0.0.1", self.port)).close()  # wakes accept()
        self.thread.join(5)


def sender_for(server: ScriptedServer) -> tuple[Sender, domain.Target]:
    settings = domain.WebhookSettings(allow_loopback=True, require_https=False, timeout_seconds=2)
    target = domain.parse_target(f"http://127.0.0.1:{server.port}/hook?x=1", False)
    return Sender(settings), target


def ok(conn: socket.socket, n: int) -> bool:
    conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    return True


def test_requests_share_one_kept_alive_connection_and_carry_host_and_length():
    server = ScriptedServer(ok)
    sender, target = sender_for(server)
    for _ in range(3):
        assert sender.post("s", target, "127.0.0.1", b'{"a":1}', {"X-Test": "1"}) == 204
    assert server.connections == 1
    first = server.requests[0].decode()
    assert first.startswith("POST /hook?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n" in first and "Content-Length: 7\r\n" in first
    assert first.endswith('{"a":1}')
    server.close()


def test_an_idle_connection_the_receiver_closed_is_retried_on_a_fresh_one():
    def close_after_answer(conn: socket.socket, n: int) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return False  # the receiver closes the kept-alive connection

    server = ScriptedServer(close_after_answer)
    sender, target = sender_for(server)
    assert sender.post("s", target, "127.0.0.1", b"{}", {}) == 200
    assert sender.post("s", target, "127.0.0.1", b"{}", {}) == 200
    assert server.connections == 2 and len(server.requests) == 2
    server.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,
    ],
)
def test_answers_that_cannot_be_reused_close_their_connection(answer):
    def script(conn: socket.socket, n: int) -> bool:
        conn.sendall(answer)
        return True

    server = ScriptedServer(script)
    sender, target = sender_for(server)
    assert sender.post("s", target, "127.0.0.1", b"{}", {}) == 200
    assert sender.post("s", target, "127.0.0.1", b"{}", {}) == 200
    assert server.connections == 2
    server.close()


def test_an_interim_answer_is_skipped():
    def script(conn: socket.socket, n: int) -> bool:
        conn.sendall(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        )
        return True

    server = ScriptedServer(script)
    sender, target = sender_for(server)
    assert sender.post("s", target, "127.0.0.1", b"{}", {}) == 201
    server.close()


def test_an_answer_that_is_not_http_is_an_error():
    def script(conn: socket.socket, n: int) -> bool:
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        return True

    server = ScriptedServer(script)
    sender, target = sender_for(server)
    with pytest.raises(AnswerError, match="not an HTTP"):
        sender.post("s", target, "127.0.0.1", b"{}", {})
    server.close()


def test_a_silent_receiver_times_out():
    def silent(conn: socket.socket, n: int) -> bool:
        threading.Event().wait(5)
        return False

    server = ScriptedServer(silent)
    sender, target = sender_for(server)
    sender.settings = domain.WebhookSettings(timeout_seconds=0.3)
    with pytest.raises(TimeoutError):
        sender.post("s", target, "127.0.0.1", b"{}", {})
    server.close()
