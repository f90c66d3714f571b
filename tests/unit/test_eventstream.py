"""The event-stream encoder, read back by botocore's own decoder and InvokeWithResponseStream
parser (what boto3 users iterate)."""

from __future__ import annotations

import io
import zlib

import botocore.session
import pytest
from botocore.eventstream import EventStream, EventStreamBuffer, InvalidPayloadLength
from botocore.parsers import create_parser

from lamina.api import eventstream


class _Raw:
    """The part of urllib3's response EventStream reads: ``stream()`` of byte pieces."""

    def __init__(self, data: bytes, piece: int = 64 * 1024 + 7) -> None:
        self._data = io.BytesIO(data)
        self._piece = piece

    def stream(self) -> object:
        while chunk := self._data.read(self._piece):
            yield chunk

    def close(self) -> None:
        pass


def _events(data: bytes) -> list[dict[str, object]]:
    model = botocore.session.get_session().get_service_model("lambda")
    operation = model.operation_model("InvokeWithResponseStream")
    shape = operation.output_shape.members["EventStream"]
    parser = create_parser(model.metadata["protocol"])._event_stream_parser  # as the client's
    return list(EventStream(_Raw(data), shape, parser, operation.name))


def test_payload_chunks_and_invoke_complete_parse_as_boto3_returns_them():
    data = (
        eventstream.payload_chunk(b"Hello")
        + eventstream.payload_chunk(bytes(range(256)))
        + eventstream.invoke_complete("Sandbox.Timedout", "Task timed out", "bG9n")
    )

    assert _events(data) == [
        {"PayloadChunk": {"Payload": b"Hello"}},
        {"PayloadChunk": {"Payload": bytes(range(256))}},
        {
            "InvokeComplete": {
                "ErrorCode": "Sandbox.Timedout",
                "ErrorDetails": "Task timed out",
                "LogResult": "bG9n",
            }
        },
    ]


def test_invoke_complete_without_values_is_empty():
    assert _events(eventstream.invoke_complete()) == [{"InvokeComplete": {}}]


def test_headers_prelude_and_checksums_are_as_the_decoder_checks_them():
    message = eventstream.payload_chunk(b"abc")
    decoded = EventStreamBuffer()
    decoded.add_data(message)
    (parsed,) = list(decoded)

    assert parsed.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert parsed.payload == b"abc"
    assert int.from_bytes(message[:4], "big") == len(message)
    assert int.from_bytes(message[8:12], "big") == zlib.crc32(message[:8])
    assert int.from_bytes(message[-4:], "big") == zlib.crc32(message[:-4])


def test_a_chunk_over_the_decoders_limit_is_split():
    data = b"y" * (eventstream.MAX_PAYLOAD_BYTES + 10)
    encoded = eventstream.payload_chunk(data)

    events = _events(encoded)

    assert [len(e["PayloadChunk"]["Payload"]) for e in events] == [  # type: ignore[index]
        eventstream.MAX_PAYLOAD_BYTES,
        10,
    ]


def test_a_message_over_botocores_limit_is_refused_so_chunks_stay_below_it():
    assert eventstream.MAX_PAYLOAD_BYTES < 24 * 1024 * 1024
    too_big = eventstream.message({":event-type": "PayloadChunk"}, b"z" * (24 * 1024 * 1024 + 1))
    buffer = EventStreamBuffer()
    buffer.add_data(too_big)

    with pytest.raises(InvalidPayloadLength):
        list(buffer)
