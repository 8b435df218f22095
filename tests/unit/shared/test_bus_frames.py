"""FrameReader: AMQP frames cut from large reads, nothing lost on timeouts or bad input."""

from __future__ import annotations

import socket
import struct

import amqp
import eventlet
import pytest

from shared.bus import FrameReader


def frame(frame_type: int, channel: int, payload: bytes, end: bytes = b"\xce") -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + end


class FakeTransport:
    def __init__(self, sock: socket.socket, leftover: bytes = b"") -> None:
        self.sock = sock
        self._read_buffer = leftover
        self.raise_on_initial_eintr = True
        self.connected = True


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_many_frames_from_one_read_and_frames_split_across_reads(pair):
    a, b = pair
    reader = FrameReader(FakeTransport(a))
    frames = [frame(1, 1, b"method"), frame(2, 1, b"header" * 10), frame(3, 1, b"x" * 70000)]
    data = b"".join(frames)
    b.sendall(data[:3])  # not even a whole header
    eventlet.spawn_after(0.02, b.sendall, data[3:])
    assert reader() == (1, 1, b"method")
    assert reader() == (2, 1, b"header" * 10)
    assert reader() == (3, 1, b"x" * 70000)  # longer than one read


def test_a_timeout_in_the_middle_of_a_frame_loses_nothing(pair):
    a, b = pair
    a.settimeout(0.05)
    reader = FrameReader(FakeTransport(a))
    data = frame(1, 7, b"payload") + frame(8, 0, b"")
    b.sendall(data[:10])
    with pytest.raises(TimeoutError):
        reader()
    b.sendall(data[10:])
    assert reader() == (1, 7, b"payload")
    assert reader() == (8, 0, b"")  # a heartbeat: empty payload


def test_bytes_py_amqp_had_already_read_come_first(pair):
    a, b = pair
    reader = FrameReader(FakeTransport(a, leftover=frame(1, 0, b"first")[:5]))
    b.sendall(frame(1, 0, b"first")[5:])
    assert reader() == (1, 0, b"first")


def test_a_wrong_frame_end_is_an_unexpected_frame(pair):
    a, b = pair
    b.sendall(frame(1, 1, b"abc", end=b"\x00"))
    with pytest.raises(amqp.exceptions.UnexpectedFrame):
        FrameReader(FakeTransport(a))()


def test_the_broker_closing_the_connection_is_an_error(pair):
    a, b = pair
    transport = FakeTransport(a)
    b.sendall(frame(1, 1, b"abc")[:6])
    b.close()
    with pytest.raises(OSError, match="closed"):
        FrameReader(transport)()
    assert transport.connected is False


def test_installed_only_on_py_amqp_tcp_transports():
    assert FrameReader.install(object()) is False
    assert FrameReader.install(None) is False
