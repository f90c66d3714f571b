"""The Lambda Runtime API inside an environment, for custom runtimes and AWS's runtime clients.

A custom runtime (``provided.al2023``: the function's own ``bootstrap``) and AWS's runtime
interface clients talk HTTP to ``AWS_LAMBDA_RUNTIME_API`` (version ``2018-06-01``):

- ``GET  /2018-06-01/runtime/invocation/next``: wait for the next event;
- ``POST /2018-06-01/runtime/invocation/{id}/response``: its result (streamed, chunk by
  chunk, with ``Lambda-Runtime-Function-Response-Mode: streaming``: ``response_stream.py``);
- ``POST /2018-06-01/runtime/invocation/{id}/error``: its error;
- ``POST /2018-06-01/runtime/init/error``: init failed.

This relay serves that API on the environment's own loopback (its network namespace: nothing
else can reach it) and translates it to lamina's frames on the control socket
(``runtime/protocol.py``), so the host sees a custom runtime exactly as it sees the managed
Python runtime. Its answers follow the AWS runtime interface emulator: 202 ``{"status":"OK"}``,
400 ``InvalidRequestID`` for a request id that is not the current one, 403
``InvalidStateTransition`` for a call out of turn (a second response, a response before any
event), 413 ``RequestEntityTooLarge`` for a response over 6 MB (the invoker then gets
``Function.ResponseSizeTooLarge``). A client that sends ``Expect: 100-continue`` (curl, over
1 MB) is told to continue at once, as AWS's Go server does.

It runs in its own process, forked by the environment's init, as the sandbox user under the
seccomp filter, like the runtime it serves. When the function has external extensions it also
serves the Extensions API and starts them (``extensions_api.py``); for a managed runtime, which
keeps speaking frames, it then sits between the runtime and the host (``runtime_bridge.py``).
Standard library only; runs on Python 3.9+.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any, Protocol

from lamina.runtime import protocol
from lamina.sandbox import extensions_api, response_stream, runtime_bridge

API_VERSION = "2018-06-01"
MAX_RESPONSE_BYTES = 6291556
MAX_ERROR_BYTES = 1 << 20
MAX_HEADER_BYTES = 64 * 1024
_PREFIX = f"/{API_VERSION}/runtime"
_TOO_LARGE = (
    f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
)

STARTED, READY, RUNNING, RESPONDED, INIT_FAILED = (
    "Started",
    "Ready",
    "Running",
    "RuntimeResponseSentState",
    "InitError",
)

Reply = tuple[int, dict[str, str], bytes]


class Handler(Protocol):
    async def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes, too_large: bool = False
    ) -> Reply:
        """Answer one HTTP request."""


class Relay:
    """One environment's Runtime API: the runtime's state and the control socket's frames."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.extensions: extensions_api.Extensions = extensions_api.Extensions()
        self._sending = asyncio.Lock()
        self.state = STARTED
        self.request_id: str | None = None
        self._invocations: asyncio.Queue[tuple[dict[str, Any], bytes]] = asyncio.Queue()
        self._waiting_next = False

    # -- the control socket -----------------------------------------------------------------

    async def read_control(self) -> None:
        """Queue every INVOKE from the host; leave when the host closes the channel."""
        loop = asyncio.get_running_loop()
        reader = protocol.FrameReader()
        while True:
            data = await loop.sock_recv(self.control, 1 << 20)
            if not data:
                os._exit(0)
            for kind, header, body in reader.feed(data):
                if kind == protocol.INVOKE:
                    self.extensions.invoke(header)
                    self._invocations.put_nowait((header, body))
                elif kind == protocol.SHUTDOWN:
                    await self.extensions.shutdown(header)
                    os._exit(0)

    async def send(self, kind: int, header: dict[str, Any], body: bytes = b"") -> None:
        loop = asyncio.get_running_loop()
        async with self._sending:  # frames from the runtime's and the extensions' calls
            await loop.sock_sendall(self.control, protocol.encode(kind, header, body))

    # -- the HTTP API ---------------------------------------------------------------------------

    async def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes, too_large: bool = False
    ) -> Reply:
        """Answer one request; ``too_large``: its body was over the limit and not kept."""
        if path.startswith(extensions_api.PREFIX + "/"):
            return await self.extensions.handle(method, path, headers, body)
        if not path.startswith(_PREFIX + "/"):
            return _error(404, "InvalidRequest", f"Unknown path {path}")
        route = path[len(_PREFIX) :]
        if method == "GET" and route == "/invocation/next":
            return await self._next()
        if method == "POST" and route == "/init/error":
            return await self._init_error(headers, body)
        parts = route.split("/")
        if method == "POST" and len(parts) == 4 and parts[1] == "invocation":
            if parts[3] == "response":
                return await self._response(parts[2], body, too_large)
            if parts[3] == "error":
                return await self._error(parts[2], headers, body)
        return _error(404, "InvalidRequest", f"Unknown path {path}")

    async def _next(self) -> Reply:
        if self.state not in (STARTED, RESPONDED) or self._waiting_next:
            return _transition_error(self.state, READY)
        if self.state == STARTED:
            self.state = READY
            if not await self.extensions.wait_ready():
                await asyncio.Event().wait()  # an extension failed the init: no events come
            await self.send(protocol.READY, self.extensions.ready_header())
        self.state = READY
        self._waiting_next = True
        try:
            header, payload = await self._invocations.get()
        finally:
            self._waiting_next = False
        self.state = RUNNING
        self.request_id = str(header["request_id"])
        return 200, _event_headers(header), payload

    def claim_response(self, request_id: str) -> Reply | None:
        """Take the turn to answer ``request_id``: None, or the error to reply with."""
        if self.state != RUNNING:
            return _transition_error(self.state, "InvocationResponse")
        if request_id != self.request_id:
            return _error(400, "InvalidRequestID", "Invalid request ID")
        self.state = RESPONDED
        return None

    async def _response(self, request_id: str, body: bytes, too_large: bool = False) -> Reply:
        refused = self.claim_response(request_id)
        if refused is not None:
            return refused
        if too_large or len(body) > MAX_RESPONSE_BYTES:
            error = {"errorMessage": _TOO_LARGE, "errorType": "Function.ResponseSizeTooLarge"}
            await self.send(
                protocol.ERROR,
                {"error_type": "Function.ResponseSizeTooLarge"},
                json.dumps(error).encode(),
            )
            self.extensions.runtime_done()
            return _error(
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
            )
        await self.send(protocol.RESPONSE, {}, body)
        self.extensions.runtime_done()
        return _accepted()

    async def _error(self, request_id: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.state != RUNNING:
            return _transition_error(self.state, "InvocationErrorResponse")
        if request_id != self.request_id:
            return _error(400, "InvalidRequestID", "Invalid request ID")
        self.state = RESPONDED
        error_type = headers.get("lambda-runtime-function-error-type") or _body_type(body)
        await self.send(protocol.ERROR, {"error_type": error_type}, body[:MAX_ERROR_BYTES])
        self.extensions.runtime_done()
        return _accepted()

    async def _init_error(self, headers: dict[str, str], body: bytes) -> Reply:
        if self.state != STARTED:
            return _transition_error(self.state, INIT_FAILED)
        self.state = INIT_FAILED
        error_type = headers.get("lambda-runtime-function-error-type") or _body_type(body)
        document = _error_document(body, error_type)
        await self.report_init_error(error_type, document)
        return _accepted()

    async def report_init_error(self, error_type: str, document: bytes) -> None:
        """INIT_ERROR, unless an extension's failure was reported first."""
        if self.extensions.claim_init_report():
            header = {"error_type": error_type, **self.extensions.ready_header()}
            await self.send(protocol.INIT_ERROR, header, document)


def _event_headers(header: dict[str, Any]) -> dict[str, str]:
    found = {
        "Content-Type": "application/json",
        "Lambda-Runtime-Aws-Request-Id": str(header["request_id"]),
        "Lambda-Runtime-Deadline-Ms": str(header["deadline_ms"]),
        "Lambda-Runtime-Invoked-Function-Arn": str(header["invoked_function_arn"]),
    }
    if header.get("trace_id"):
        found["Lambda-Runtime-Trace-Id"] = str(header["trace_id"])
    if header.get("client_context"):
        found["Lambda-Runtime-Client-Context"] = str(header["client_context"])
    if header.get("identity"):
        found["Lambda-Runtime-Cognito-Identity"] = json.dumps(header["identity"])
    return found


def _body_type(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return "Runtime.Unknown"
    found = document.get("errorType") if isinstance(document, dict) else None
    return str(found) if found else "Runtime.Unknown"


def _error_document(body: bytes, error_type: str) -> bytes:
    """What the first invocation answers after a failed init: the runtime's JSON error, or
    one built around whatever it sent."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "errorType" in document:
        return body[:MAX_ERROR_BYTES]
    message = body[:4096].decode("utf-8", "replace")
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _accepted() -> Reply:
    return 202, {"Content-Type": "application/json"}, b'{"status":"OK"}\n'


def _error(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return status, {"Content-Type": "application/json"}, body


def _transition_error(current: str, target: str) -> Reply:
    message = "State transition from {} to {} failed for runtime. Error: {}".format(
        current,
        target,
        "State transition is not allowed",
    )
    return _error(403, "InvalidStateTransition", message)


# -- HTTP/1.1, just enough for runtime clients ---------------------------------------------------

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            413: "Request Entity Too Large", 500: "Internal Server Error"}  # fmt: skip


async def _serve_connection(
    relay: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            request = await _read_head(reader, writer)
            if request is None:
                return
            method, path, headers = request
            if (
                isinstance(relay, Relay)  # not when it serves only the Extensions API
                and (
                    request_id := response_stream.streamed_response(method, path, headers, _PREFIX)
                )
                is not None
            ):
                status, reply_headers, reply = await response_stream.relay(
                    relay, request_id, headers, reader
                )
            else:
                body, too_large = await _read_body(reader, headers)
                status, reply_headers, reply = await relay.handle(
                    method, path, headers, body, too_large
                )
            head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
            for name, value in reply_headers.items():
                head += f"{name}: {value}\r\n"
            head += f"Content-Length: {len(reply)}\r\n\r\n"
            writer.write(head.encode("latin-1") + reply)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        writer.close()


async def _read_head(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, str, dict[str, str]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ValueError("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        # curl asks before sending a body over 1 MB, and waits a second for no answer; AWS's
        # Runtime API (Go's HTTP server) answers at once.
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    return method, target.split("?", 1)[0], headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> tuple[bytes, bool]:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return await _read_chunked(reader)
    length = int(headers.get("content-length") or 0)
    too_large = length > MAX_RESPONSE_BYTES
    return await _read_exactly(reader, length, discard=too_large), too_large


async def _read_exactly(reader: asyncio.StreamReader, size: int, discard: bool) -> bytes:
    if not discard:
        return await reader.readexactly(size)
    while size > 0:
        size -= len(await reader.readexactly(min(size, 1 << 20)))
    return b""


async def _read_chunked(reader: asyncio.StreamReader) -> tuple[bytes, bool]:
    chunks = []
    total = 0
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()  # the blank line after the last chunk (no trailers)
            break
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        total += size
        if total <= MAX_RESPONSE_BYTES:
            chunks.append(data)
    return b"".join(chunks), total > MAX_RESPONSE_BYTES


async def _main(
    control_fd: int,
    listener: socket.socket,
    init_error: bytes | None,
    extensions: dict[str, Any] | None,
) -> None:
    control = socket.socket(fileno=control_fd)
    control.setblocking(False)
    relay = Relay(control)
    if extensions is not None:
        relay.extensions = runtime_bridge.start_extensions(relay.send, extensions)
    if init_error is not None:
        relay.state = INIT_FAILED
        await relay.report_init_error(_body_type(init_error), init_error)
    listener.setblocking(False)
    runtime_fd = None if extensions is None else extensions.get("runtime_fd")
    handler: Handler = relay if runtime_fd is None else runtime_bridge.ExtensionsOnly(relay)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(handler, r, w), sock=listener, limit=MAX_HEADER_BYTES
    )
    async with server:
        if runtime_fd is None:
            await relay.read_control()
        else:
            await runtime_bridge.run(relay, runtime_fd)


def serve(
    control_fd: int,
    listener: socket.socket,
    init_error: bytes | None = None,
    extensions: dict[str, Any] | None = None,
) -> None:
    """Run the relay until the host closes the control socket (never returns).

    ``extensions``: see ``runtime_bridge.start_extensions``; with ``runtime_fd`` in it the
    runtime is a managed one, speaking frames on that descriptor instead of HTTP.
    """
    asyncio.run(_main(control_fd, listener, init_error, extensions))
    os._exit(0)


RELAY_FDS_VARIABLE = "_LAMINA_RELAY_FDS"
INIT_ERROR_VARIABLE = "_LAMINA_INIT_ERROR"
EXTENSIONS_VARIABLE = "_LAMINA_EXTENSIONS"


def main() -> None:
    """Entry point as a process of its own (the ``process`` backend has no init to fork it):
    ``_LAMINA_RELAY_FDS=<control>,<listener>``, an optional ``_LAMINA_INIT_ERROR``, an
    optional ``_LAMINA_EXTENSIONS`` (JSON: see ``serve``)."""
    control_fd, listener_fd = (int(fd) for fd in os.environ.pop(RELAY_FDS_VARIABLE).split(","))
    init_error = os.environ.pop(INIT_ERROR_VARIABLE, None)
    extensions = os.environ.pop(EXTENSIONS_VARIABLE, None)
    listener = socket.socket(fileno=listener_fd)
    serve(
        control_fd,
        listener,
        init_error.encode() if init_error else None,
        json.loads(extensions) if extensions else None,
    )


if __name__ == "__main__":
    main()
