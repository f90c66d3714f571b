"""The host's side of a streamed response: forwarded or gathered, under AWS's limits."""

from __future__ import annotations

import json

from lamina.pool.streaming import MAX_BUFFERED_BYTES, MAX_STREAMED_BYTES, ResponseChunks


class Sink:
    def __init__(self) -> None:
        self.pieces: list[tuple[bytes, str | None]] = []
        self.versions: list[str] = []

    def begin(self, executed_version: str) -> None:
        self.versions.append(executed_version)

    def write(self, data: bytes, content_type: str | None) -> None:
        self.pieces.append((data, content_type))


def test_pieces_go_to_the_sink_at_once_with_the_first_pieces_content_type():
    sink = Sink()
    chunks = ResponseChunks(sink)

    chunks.take({"content_type": "text/plain"}, b"one")
    chunks.take({}, b"two")

    assert sink.pieces == [(b"one", "text/plain"), (b"two", "text/plain")]
    assert chunks.finish() == (b"", None)


def test_without_a_sink_pieces_are_gathered_into_the_payload():
    chunks = ResponseChunks(None)

    chunks.take({"content_type": "text/plain"}, b"one ")
    chunks.take({}, b"two")

    assert chunks.finish() == (b"one two", None)


def test_a_gathered_response_over_six_mb_is_too_large():
    chunks = ResponseChunks(None)
    piece = b"x" * (1 << 20)

    for _ in range(MAX_BUFFERED_BYTES // len(piece) + 1):
        chunks.take({}, piece)
    payload, error_type = chunks.finish()

    assert error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(payload)["errorMessage"] == (
        "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    )


def test_a_streamed_response_stops_at_its_limit_and_ends_too_large():
    sink = Sink()
    chunks = ResponseChunks(sink)
    piece = b"y" * (1 << 20)

    for _ in range(MAX_STREAMED_BYTES // len(piece) + 3):
        chunks.take({}, piece)

    assert sum(len(data) for data, _ in sink.pieces) == MAX_STREAMED_BYTES
    assert chunks.finish()[1] == "Function.ResponseSizeTooLarge"


def test_a_content_type_that_cannot_be_a_header_is_replaced():
    sink = Sink()
    chunks = ResponseChunks(sink)

    chunks.take({"content_type": "text/plain\r\nx-injected: 1"}, b"a")

    assert sink.pieces == [(b"a", "application/octet-stream")]
