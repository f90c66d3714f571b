"""The wire format between the host and a managed runtime inside an environment.

The two ends share a Unix socketpair. Every message is one frame::

    u32 length (of everything after it) | u8 kind | u32 header length | header (JSON) | body

The header is a small JSON object; the body carries the payload untouched (an event, a
response or an error document), so it is never parsed twice. Big-endian throughout.

Host to environment: INVOKE. Environment to host: READY or INIT_ERROR once, after init;
then RESPONSE or ERROR once per INVOKE. One invocation is in flight at a time. An ERROR whose
header has ``"exiting": true`` is the runtime's last word (Node.js ends on an uncaught
exception, as on AWS): the environment is not used again.

A streamed response (Node.js ``awslambda.streamifyResponse``, a custom runtime posting with
``Lambda-Runtime-Function-Response-Mode: streaming``) is sent as RESPONSE_CHUNK frames, the
function's bytes as they are written (the first one's header may carry ``content_type``),
then ends with a RESPONSE whose header has ``"streamed": true`` and an empty body, or with an
ERROR (a failure mid-stream).

Environments with external extensions (``/opt/extensions``) add two kinds, spoken by the
Extensions API relay (``sandbox/extensions_api.py``), never by a runtime: DONE (environment to
host) ends an invocation's post-runtime phase once every extension subscribed to INVOKE has
asked for its next event (``"error_type"`` in its header: an extension failed, the environment
must not be reused), and SHUTDOWN (host to environment, header ``reason`` and ``deadline_ms``)
starts the shutdown phase (SIGTERM to the runtime, SHUTDOWN to the extensions subscribed to
it); the relay closes the channel when it is over. READY and INIT_ERROR then carry
``"extensions"``: each one's name, state and events.

SnapStart (``runtime/python/snapshot.py``): a *template* environment that sent READY waits for
RESTORE frames, each carrying three descriptors (SCM_RIGHTS: the new control socket, output
pipe and status pipe), and forks one child per frame. The child says HELLO on its new socket
(the host reads its pid from the kernel's SCM_CREDENTIALS), waits for RESUME, runs the
after-restore hooks and answers READY or INIT_ERROR like any environment.

This module must run on Python 3.9 and import only the standard library.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Dict, List, Optional, Tuple

Frame = Tuple[int, Dict[str, Any], bytes]

INVOKE = 1
READY = 2
INIT_ERROR = 3
RESPONSE = 4
ERROR = 5
RESPONSE_CHUNK = 6
DONE = 7
SHUTDOWN = 8
RESTORE = 9
HELLO = 10
RESUME = 11

KIND_NAMES = {
    INVOKE: "INVOKE",
    READY: "READY",
    INIT_ERROR: "INIT_ERROR",
    RESPONSE: "RESPONSE",
    ERROR: "ERROR",
    RESPONSE_CHUNK: "RESPONSE_CHUNK",
    DONE: "DONE",
    SHUTDOWN: "SHUTDOWN",
    RESTORE: "RESTORE",
    HELLO: "HELLO",
    RESUME: "RESUME",
}

_PREFIX = struct.Struct(">IBI")
PREFIX_SIZE = _PREFIX.size
MAX_FRAME_BYTES = 16 * 1024 * 1024
"""Frames above this are a protocol violation; responses are limited well below it."""


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame."""


def encode(kind: int, header: dict[str, Any], body: bytes = b"") -> bytes:
    """Build one frame from a kind, a JSON-serialisable header and a body of bytes."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return _PREFIX.pack(5 + len(head) + len(body), kind, len(head)) + head + body


def decode_frame(data: bytes | memoryview) -> Frame:
    """Split one complete frame (without its length field) into (kind, header, body)."""
    if len(data) < 5:
        raise ProtocolError("frame too short")
    kind = data[0]
    head_len = int.from_bytes(data[1:5], "big")
    if kind not in KIND_NAMES or 5 + head_len > len(data):
        raise ProtocolError("malformed frame")
    header = json.loads(bytes(data[5 : 5 + head_len]))
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not an object")
    return kind, header, bytes(data[5 + head_len :])


class FrameReader:
    """Incremental decoder: feed bytes as they arrive, take whole frames out."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return the list of (kind, header, body) frames now complete."""
        self._buffer += data
        frames: List[Frame] = []
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[:4], "big")
            if length > self._max_frame:
                raise ProtocolError("frame of %d bytes exceeds the limit" % length)
            if len(self._buffer) < 4 + length:
                break
            with memoryview(self._buffer) as view:
                frames.append(decode_frame(view[4 : 4 + length]))
            del self._buffer[: 4 + length]
        return frames


def read_frame(sock: socket.socket) -> Optional[Frame]:
    """Blocking read of one frame from a socket; None on a clean end of stream."""
    prefix = _recv_exact(sock, 4)
    if prefix is None:
        return None
    length = int.from_bytes(prefix, "big")
    if length > MAX_FRAME_BYTES:
        raise ProtocolError("frame of %d bytes exceeds the limit" % length)
    data = _recv_exact(sock, length)
    if data is None:
        raise ProtocolError("stream ended inside a frame")
    return decode_frame(data)


def _recv_exact(sock: socket.socket, size: int) -> Optional[bytes]:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            if chunks:
                raise ProtocolError("stream ended inside a frame")
            return None
        chunks += chunk
    return bytes(chunks)
