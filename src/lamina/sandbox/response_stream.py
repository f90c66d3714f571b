"""Streamed responses over the Runtime API: a chunked POST relayed to the host as it arrives.

A custom runtime streams its response as AWS documents ("Response streaming" in "Using the
Lambda runtime API for custom runtimes"): ``POST /runtime/invocation/{id}/response`` with
``Lambda-Runtime-Function-Response-Mode: streaming`` and ``Transfer-Encoding: chunked``; its
``Content-Type`` is the response's. A failure mid-stream is reported in trailers,
``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body`` (the error
document in base64). The relay (``runtime_api.py``) hands such a request here before reading
its body; each piece read goes to the host at once as a RESPONSE_CHUNK frame (at most
``PIECE_BYTES`` each, under the host's frame limit), then a RESPONSE ``{"streamed": true}``, or
an ERROR built from the trailers. The size limit is the host's (``pool/streaming.py``).

Standard library only; runs inside the environment like the relay.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import TYPE_CHECKING

from lamina.runtime import protocol

if TYPE_CHECKING:
    from lamina.sandbox.runtime_api import Relay, Reply

MODE_HEADER = "lambda-runtime-function-response-mode"
ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
PIECE_BYTES = 1 << 20
MAX_TRAILER_BYTES = 1 << 20
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def streamed_response(method: str, path: str, headers: dict[str, str], prefix: str) -> str | None:
    """The request id of a streamed ``.../invocation/{id}/response`` request, else None."""
    if method != "POST" or headers.get(MODE_HEADER, "").lower() != "streaming":
        return None
    parts = path[len(prefix) :].split("/") if path.startswith(prefix + "/") else []
    if len(parts) == 4 and parts[1] == "invocation" and parts[3] == "response":
        return parts[2]
    return None


async def relay(
    relay: Relay, request_id: str, headers: dict[str, str], reader: asyncio.StreamReader
) -> Reply:
    """Relay one streamed response; answered (202) once the runtime has sent all of it."""
    refused = relay.claim_response(request_id)
    sink = _Forward(relay, headers.get("content-type") or DEFAULT_CONTENT_TYPE, refused is None)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        trailers = await _relay_chunked(reader, sink)
    else:
        await _relay_sized(reader, int(headers.get("content-length") or 0), sink)
        trailers = {}
    if refused is not None:
        return refused
    error_type = trailers.get(ERROR_TYPE_TRAILER)
    if error_type:
        document = _error_document(trailers.get(ERROR_BODY_TRAILER, ""), error_type)
        await relay.send(protocol.ERROR, {"error_type": error_type}, document)
    else:
        await sink.flush_content_type()
        await relay.send(protocol.RESPONSE, {"streamed": True})
    return 202, {"Content-Type": "application/json"}, b'{"status":"OK"}\n'


class _Forward:
    """Sends pieces to the host; the first one says the content type. Drops them when the
    request was refused (its body is still read, to keep the connection usable)."""

    def __init__(self, relay: Relay, content_type: str, accepted: bool) -> None:
        self._relay = relay
        self._content_type = content_type
        self._accepted = accepted
        self._started = False

    async def __call__(self, data: bytes) -> None:
        if not self._accepted or not data:
            return
        header = {} if self._started else {"content_type": self._content_type}
        self._started = True
        await self._relay.send(protocol.RESPONSE_CHUNK, header, data)

    async def flush_content_type(self) -> None:
        if not self._started:
            self._started = True
            header = {"content_type": self._content_type}
            await self._relay.send(protocol.RESPONSE_CHUNK, header, b"")


async def _relay_chunked(reader: asyncio.StreamReader, sink: _Forward) -> dict[str, str]:
    """Forward each chunk's bytes as they arrive; return the trailers (lower-case names)."""
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return await _read_trailers(reader)
        await _relay_sized(reader, size, sink)
        await reader.readexactly(2)


async def _relay_sized(reader: asyncio.StreamReader, size: int, sink: _Forward) -> None:
    while size > 0:
        piece = await reader.read(min(size, PIECE_BYTES))
        if not piece:
            raise asyncio.IncompleteReadError(b"", size)
        size -= len(piece)
        await sink(piece)


async def _read_trailers(reader: asyncio.StreamReader) -> dict[str, str]:
    trailers: dict[str, str] = {}
    total = 0
    while True:
        line = await reader.readline()
        total += len(line)
        if line in (b"\r\n", b"\n", b"") or total > MAX_TRAILER_BYTES:
            return trailers
        name, _, value = line.decode("latin-1").partition(":")
        trailers[name.strip().lower()] = value.strip()


def _error_document(encoded: str, error_type: str) -> bytes:
    """The error document of the trailers: base64 JSON as AWS's clients send it, or one built
    around whatever came."""
    try:
        raw = base64.b64decode(encoded, validate=True)
        document = json.loads(raw)
    except (binascii.Error, ValueError):
        document = None
    if isinstance(document, dict):
        document.setdefault("errorType", error_type)
        return json.dumps(document).encode()
    return json.dumps({"errorMessage": encoded[:4096], "errorType": error_type}).encode()
