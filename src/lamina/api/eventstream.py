"""The ``application/vnd.amazon.eventstream`` encoding of InvokeWithResponseStream's events.

Each event is one self-delimiting binary message, as botocore's ``EventStreamBuffer`` reads it::

    u32 total length | u32 headers length | u32 CRC32 of those 8 bytes (the prelude)
    headers: u8 name length | name | u8 value type (7: string) | u16 value length | value
    payload
    u32 CRC32 of everything before it

Big-endian throughout. The service sends two kinds of events: ``PayloadChunk`` (its payload is
the function's bytes as they are) and ``InvokeComplete`` (a JSON object: ``ErrorCode``,
``ErrorDetails``, ``LogResult``).
"""

from __future__ import annotations

import json
import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_PRELUDE = struct.Struct(">II")
_STRING = 7
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024 - 1024
"""botocore refuses messages over 16 MB; a chunk larger than this is sent as several."""


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers."""
    head = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + 4 + len(head) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(head))
    body = prelude + zlib.crc32(prelude).to_bytes(4, "big") + head + payload
    return body + zlib.crc32(body).to_bytes(4, "big")


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes((len(raw_name),))
        + raw_name
        + bytes((_STRING,))
        + len(raw_value).to_bytes(2, "big")
        + raw_value
    )


def payload_chunk(data: bytes) -> bytes:
    """``PayloadChunk`` events carrying ``data`` (one per 16 MB slice)."""
    return b"".join(
        message(
            {
                ":event-type": "PayloadChunk",
                ":content-type": "application/octet-stream",
                ":message-type": "event",
            },
            data[start : start + MAX_PAYLOAD_BYTES],
        )
        for start in range(0, max(len(data), 1), MAX_PAYLOAD_BYTES)
    )


def invoke_complete(
    error_code: str | None = None, error_details: str | None = None, log_result: str | None = None
) -> bytes:
    """The ``InvokeComplete`` event that ends every stream; members only when they have a value."""
    doc = {
        key: value
        for key, value in (
            ("ErrorCode", error_code),
            ("ErrorDetails", error_details),
            ("LogResult", log_result),
        )
        if value is not None
    }
    return message(
        {
            ":event-type": "InvokeComplete",
            ":content-type": "application/json",
            ":message-type": "event",
        },
        json.dumps(doc, separators=(",", ":")).encode(),
    )
