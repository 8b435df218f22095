"""FrameReader: AMQP frames cut from large reads, nothing lost on timeouts or bad input."""

from __future__ import annotations

import socket
import struct

import amqp
import eventlet
import pytest

from shared.bus import FrameReader, amqp_message


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


class _Recorder:
    """Stands for py-amqp's connection and transport: records what its frame writer sends."""

    def __init__(self, frame_max: int) -> None:
        self.frame_max = frame_max
        self.bytes_sent = 0
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.sent += bytes(data)


def _py_amqp_frames(channel: int, frame_max: int, item) -> bytes:
    from amqp import spec
    from amqp.method_framing import frame_writer

    recorder = _Recorder(frame_max)
    message = amqp_message(item)  # what the publisher hands py-amqp when it cannot encode
    args = amqp.serialization.dumps("Bssbb", (0, item.exchange, item.routing_key, True, False))
    frame_writer(recorder, recorder)(1, channel, spec.Basic.Publish, args, message)
    return bytes(recorder.sent)


@pytest.mark.parametrize(
    "item",
    [
        {"body": b'{"type": "a.b"}', "headers": {"x-disan-producer": "catalogue"}, "cid": "c-1"},
        {"body": b"", "headers": {}, "cid": None},
        {"body": "đình làng Việt".encode() * 9000, "headers": {"k": "vì"}, "cid": "x"},  # 3 frames
        {"body": b"x", "headers": {"a": "1", "b": ""}, "cid": "c", "content_type": None},
    ],
    ids=["relay", "empty", "large-unicode", "no-content-type"],
)
def test_publish_frames_are_the_bytes_py_amqp_writes(item):
    from shared.bus import Outgoing, publish_frames

    out = Outgoing(
        "disan.events",
        "catalogue.record_created",
        item["body"],
        item["headers"],
        message_id="0b6f5a5e-3c55-4c1e-9a59-0f1a2b3c4d5e",
        correlation_id=item["cid"],
    )
    if "content_type" in item:
        out.content_type = item["content_type"]
    for channel, frame_max in ((1, 131072), (7, 4096)):
        assert publish_frames(channel, frame_max, out) == _py_amqp_frames(channel, frame_max, out)


def test_headers_that_are_not_text_are_left_to_py_amqp():
    from shared.bus import Outgoing, publish_frames

    out = Outgoing("", "disan.dead_letters", b"{}", {"x-disan-attempt": 3})
    assert publish_frames(1, 131072, out) is None
