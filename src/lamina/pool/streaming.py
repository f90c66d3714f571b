"""The chunks of a streamed response, as an environment receives them from its runtime.

A runtime that streams (``runtime/protocol.py`` RESPONSE_CHUNK frames) writes its response in
pieces. When the caller asked for a stream (InvokeWithResponseStream, a RESPONSE_STREAM
function URL) each piece goes to the caller's ``ResponseSink`` at once, up to AWS's limit for
streamed responses (200 MB since July 2025; it was a 20 MB soft limit before). When it did
not (a plain Invoke of a streaming function) the pieces are gathered into one payload under
the 6 MB limit of buffered responses, as AWS does. Past either limit the rest is dropped and
the invocation ends with ``Function.ResponseSizeTooLarge``.

Kept apart from ``environment.py`` so the buffered path pays nothing for it: an environment
makes one of these only when a chunk arrives.
"""

from __future__ import annotations

import json

from lamina.model import ResponseSink

MAX_STREAMED_BYTES = 200 * 1024 * 1024
MAX_CONTENT_TYPE_CHARS = 256
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_BUFFERED_BYTES = 6_291_556
TOO_LARGE = "Function.ResponseSizeTooLarge"


class ResponseChunks:
    """One invocation's streamed response: forwarded to ``sink``, or gathered without one."""

    def __init__(self, sink: ResponseSink | None) -> None:
        self._sink = sink
        self._buffer = bytearray()
        self._limit = MAX_BUFFERED_BYTES if sink is None else MAX_STREAMED_BYTES
        self.size = 0
        self.content_type: str | None = None

    @property
    def too_large(self) -> bool:
        return self.size > self._limit

    def take(self, header: dict[str, object], body: bytes) -> None:
        """One RESPONSE_CHUNK frame: pass it on (or keep it) unless the limit is passed."""
        content_type = header.get("content_type")
        if self.content_type is None and isinstance(content_type, str):
            self.content_type = _header_safe(content_type)
        self.size += len(body)
        if self.too_large:
            self._buffer = bytearray()
        elif self._sink is not None:
            self._sink.write(body, self.content_type)
        else:
            self._buffer += body

    def finish(self) -> tuple[bytes, str | None]:
        """(payload, error type) once the runtime ended the stream: what was gathered (nothing
        when it went to the sink), or AWS's error past the limit."""
        if self.too_large:
            message = (
                "Response payload size exceeded maximum allowed payload size "
                f"({self._limit} bytes)."
            )
            doc = {"errorMessage": message, "errorType": TOO_LARGE}
            return json.dumps(doc).encode(), TOO_LARGE
        return bytes(self._buffer), None


def _header_safe(content_type: str) -> str:
    """The runtime's content type if it can be an HTTP header value (printable ASCII, not
    too long: it comes from untrusted code and may become a function URL's header)."""
    if len(content_type) <= MAX_CONTENT_TYPE_CHARS and all(" " <= c <= "~" for c in content_type):
        return content_type
    return DEFAULT_CONTENT_TYPE
