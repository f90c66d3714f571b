"""The host ⇄ runtime wire format: frames survive any split, oversized frames are refused."""

from __future__ import annotations

import socket

import pytest

from lamina.runtime import protocol


def test_frames_are_rebuilt_from_any_split_of_the_byte_stream():
    stream = protocol.encode(protocol.RESPONSE, {"a": 1}, b"x" * 100) + protocol.encode(
        protocol.ERROR, {"b": "2"}, b""
    )
    for cut in range(1, len(stream)):
        reader = protocol.FrameReader()
        frames = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert frames == [
            (protocol.RESPONSE, {"a": 1}, b"x" * 100),
            (protocol.ERROR, {"b": "2"}, b""),
        ]


def test_a_frame_above_the_limit_is_a_protocol_error():
    reader = protocol.FrameReader(max_frame=64)

    with pytest.raises(protocol.ProtocolError):
        reader.feed(protocol.encode(protocol.RESPONSE, {}, b"y" * 100))


def test_an_unknown_kind_is_a_protocol_error():
    frame = bytearray(protocol.encode(protocol.RESPONSE, {}, b""))
    frame[4] = 99

    with pytest.raises(protocol.ProtocolError):
        protocol.FrameReader().feed(bytes(frame))


def test_blocking_reads_return_frames_then_none_at_the_end_of_the_stream():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(protocol.encode(protocol.INVOKE, {"request_id": "r"}, b"{}"))
        left.shutdown(socket.SHUT_WR)

        assert protocol.read_frame(right) == (protocol.INVOKE, {"request_id": "r"}, b"{}")
        assert protocol.read_frame(right) is None
