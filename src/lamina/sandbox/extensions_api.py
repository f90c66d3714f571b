"""The Lambda Extensions API inside an environment: external extensions from ``/opt/extensions``.

Every executable file in ``/opt/extensions`` (brought by a layer) is started before the
runtime, in the same sandbox, with the function's variables and ``AWS_LAMBDA_RUNTIME_API``.
Each one talks HTTP to the relay that serves the Runtime API (``runtime_api.py``), at
``/2020-01-01/extension``:

- ``POST register`` (header ``Lambda-Extension-Name``: the file's name; body
  ``{"events": ["INVOKE", "SHUTDOWN"]}``): answers 200 with ``Lambda-Extension-Identifier``
  and ``{"functionName", "functionVersion", "handler"}``;
- ``GET event/next``: blocks until the next INVOKE or SHUTDOWN event (200, JSON);
- ``POST init/error`` and ``POST exit/error`` (header ``Lambda-Extension-Function-Error-Type``):
  202, and the environment fails (``Extension.InitError``, ``Extension.ExitError``).

The phases follow AWS's. Init: the runtime starts only once every extension has registered,
and the environment is READY only once the runtime is ready and every extension has asked for
its first event; an extension that cannot start, exits, or reports an init error fails the
init (``Extension.LaunchError``, ``Extension.Crash``, ``Extension.InitError``). Invoke: each
extension subscribed to INVOKE receives the event as the runtime does; the response goes to
the caller as soon as the runtime sends it, and the invocation ends (DONE to the host) when
every such extension has asked for its next event again. Shutdown: extensions subscribed to
SHUTDOWN get the event with a deadline, the others are killed at once, and whatever still runs
at the deadline is killed. Errors answer AWS's way: 403 with ``Extension.*`` types, AWS's
messages.

``Extensions`` is the null object used when an environment has none: it costs nothing.
Standard library only; runs on Python 3.9+.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lamina.runtime import protocol

API_VERSION = "2020-01-01"
PREFIX = f"/{API_VERSION}/extension"
MAX_EXTENSIONS = 10
RUNTIME_SHUTDOWN_S = 0.3
RUNTIME_SHUTDOWN_WITH_INTERNAL_S = 0.5
"""AWS's share of the shutdown phase for the runtime (more when it has internal extensions)."""
INVOKE, SHUTDOWN = "INVOKE", "SHUTDOWN"
STARTED, REGISTERED, READY, RUNNING = "Started", "Registered", "Ready", "Running"
INIT_ERROR, EXIT_ERROR, LAUNCH_ERROR, EXITED = "InitError", "ExitError", "LaunchError", "Exited"
_NOT_ALLOWED = "State transition is not allowed"

Reply = tuple[int, dict[str, str], bytes]
Send = Callable[[int, dict[str, Any], bytes], Coroutine[Any, Any, None]]


class Extensions:
    """No extensions: every hook is free, and the API's paths are not found."""

    def wants_done(self) -> bool:
        """Whether the host must wait for DONE after each response."""
        return False

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        return _error(404, "InvalidRequest", f"Unknown path {path}")

    async def wait_ready(self) -> bool:
        return True

    def ready_header(self) -> dict[str, Any]:
        return {}

    def claim_init_report(self) -> bool:
        return True

    def invoke(self, header: dict[str, Any]) -> None:
        return None

    def runtime_done(self) -> None:
        return None

    async def shutdown(self, header: dict[str, Any]) -> None:
        return None


class Extension:
    """One extension: its process (none for an internal one), state, events and mailbox."""

    def __init__(self, name: str, path: str | None) -> None:
        self.name = name
        self.path = path
        self.id = str(uuid.uuid4())
        self.state = STARTED
        self.events: list[str] = []
        self.mailbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.process: subprocess.Popen[bytes] | None = None
        self.error_type: str | None = None
        self.asked = False
        """It has asked for an event at least once (init is over for it)."""
        self.handling: str | None = None
        """The request id of the INVOKE it was last given."""

    def describe(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "state": self.state, "events": self.events}
        if self.error_type:
            found["error_type"] = self.error_type
        return found


class Hub(Extensions):
    """The extensions of one environment and the phases they take part in."""

    def __init__(self, send: Send, env: dict[str, str], cwd: str) -> None:
        self._send = send
        self._env = {k: v for k, v in env.items() if not k.startswith("_LAMINA_CONTROL")}
        self._cwd = cwd
        self._loop = asyncio.get_running_loop()
        self.by_name: dict[str, Extension] = {}
        self._by_id: dict[str, Extension] = {}
        self._registered: asyncio.Future[bool] = self._loop.create_future()
        self._ready: asyncio.Future[bool] = self._loop.create_future()
        self._init_over = False
        self._runtime_ready = False
        self._init_reported = False
        self._fatal: str | None = None
        self._request_id: str | None = None
        self._pending: set[str] = set()
        self._runtime_done = False
        self._shutting_down = False
        self._exits: dict[int, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.stop_runtime: Callable[[float], Coroutine[Any, Any, None]] | None = None
        """Set when the relay can signal the runtime (the namespace sandbox)."""

    # -- launching --------------------------------------------------------------------------

    def launch(self, directory: str) -> None:
        """Start every executable of ``directory``, in name order, as AWS does."""
        for entry in sorted(Path(directory).iterdir()):
            if not entry.is_file():
                continue
            name, path = entry.name, str(entry)
            extension = self._add(Extension(name, path))
            try:
                extension.process = subprocess.Popen(
                    [path], env=self._env, cwd=self._cwd, stdin=subprocess.DEVNULL
                )
            except OSError as exc:
                extension.state = LAUNCH_ERROR
                self._fail("Extension.LaunchError", f"{name}: {exc.strerror or exc}", extension)
                continue
            self._watch(extension)
        self._check_registered()

    def _add(self, extension: Extension) -> Extension:
        self.by_name[extension.name] = extension
        self._by_id[extension.id] = extension
        return extension

    def _watch(self, extension: Extension) -> None:
        process = extension.process
        assert process is not None
        exited: asyncio.Future[None] = self._loop.create_future()
        self._exits[process.pid] = exited
        pidfd = os.pidfd_open(process.pid)

        def on_exit() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            status = process.wait()
            exited.set_result(None)
            self._on_exit(extension, status)

        self._loop.add_reader(pidfd, on_exit)

    def _on_exit(self, extension: Extension, status: int) -> None:
        if self._shutting_down:
            extension.state = EXITED
            return
        if extension.state in (INIT_ERROR, EXIT_ERROR):
            return  # already failed the environment
        extension.state = EXITED
        reason = f"{extension.name}: exited with {_exit_reason(status)}"
        self._fail("Extension.Crash", reason, extension)

    # -- the phases ---------------------------------------------------------------------------

    async def wait_registered(self) -> bool:
        """Whether every extension registered (the runtime may start), or the init failed."""
        return await self._registered

    async def wait_ready(self) -> bool:
        """Called when the runtime is ready: whether every extension is ready too."""
        self._runtime_ready = True
        self._check_ready()
        ok = await self._ready
        self._init_over = ok
        return ok

    def ready_header(self) -> dict[str, Any]:
        return {"extensions": self.describe()}

    def wants_done(self) -> bool:
        return any(INVOKE in e.events for e in self.by_name.values())

    def describe(self) -> list[dict[str, Any]]:
        return [extension.describe() for extension in self.by_name.values()]

    def claim_init_report(self) -> bool:
        """Whether the caller is the first to report the init's outcome (runtime or hub)."""
        first = not self._init_reported
        self._init_reported = True
        return first

    def invoke(self, header: dict[str, Any]) -> None:
        """The host sent an event: give it to every extension subscribed to INVOKE."""
        self._request_id = str(header["request_id"])
        self._runtime_done = False
        event = {
            "eventType": INVOKE,
            "deadlineMs": header["deadline_ms"],
            "requestId": self._request_id,
            "invokedFunctionArn": header["invoked_function_arn"],
            "tracing": {"type": "X-Amzn-Trace-Id", "value": header.get("trace_id") or ""},
        }
        self._pending = set()
        for extension in self.by_name.values():
            if INVOKE in extension.events and extension.state in (READY, RUNNING):
                self._pending.add(extension.id)
                extension.mailbox.put_nowait(event)

    def runtime_done(self) -> None:
        """The runtime answered the current event; DONE follows once the extensions are."""
        self._runtime_done = True
        self.spawn(self._maybe_done())

    async def _maybe_done(self) -> None:
        if self._request_id is None or not self._runtime_done or self._pending:
            return
        request_id, self._request_id = self._request_id, None
        if self.wants_done() or self._fatal:
            await self._send(protocol.DONE, self._done_header(request_id), b"")

    def _done_header(self, request_id: str | None) -> dict[str, Any]:
        header: dict[str, Any] = {"request_id": request_id}
        if self._fatal:
            header["error_type"] = self._fatal
        return header

    async def shutdown(self, header: dict[str, Any]) -> None:
        """The runtime gets SIGTERM and a short grace; then SHUTDOWN to the extensions
        subscribed to it; the rest are killed at once, and everything at the deadline."""
        self._shutting_down = True
        deadline_ms = int(header["deadline_ms"])
        if self.stop_runtime is not None:
            internal = any(e.path is None for e in self.by_name.values())
            await self.stop_runtime(
                RUNTIME_SHUTDOWN_WITH_INTERNAL_S if internal else RUNTIME_SHUTDOWN_S
            )
        event = {
            "eventType": SHUTDOWN,
            "shutdownReason": header["reason"],
            "deadlineMs": deadline_ms,
        }
        for extension in self.by_name.values():
            if extension.process is None or extension.process.returncode is not None:
                continue
            if SHUTDOWN in extension.events:
                extension.mailbox.put_nowait(event)
            else:
                _kill(extension.process)
        waiting = [f for f in self._exits.values() if not f.done()]
        if waiting:
            timeout_s = max(0.0, deadline_ms / 1000 - time.time())
            await asyncio.wait(waiting, timeout=timeout_s)
        for extension in self.by_name.values():
            if extension.process is not None and extension.process.returncode is None:
                _kill(extension.process)

    # -- failures -----------------------------------------------------------------------------

    def _fail(self, error_type: str, reason: str, extension: Extension) -> None:
        """An extension failed: the init fails, or the environment must not be reused."""
        if not extension.error_type:
            extension.error_type = error_type
        if not self._init_over:
            for future in (self._registered, self._ready):
                if not future.done():
                    future.set_result(False)
            if self.claim_init_report():
                header = {"error_type": error_type, "extensions": self.describe()}
                self.spawn(self._send(protocol.INIT_ERROR, header, reason.encode()))
            return
        self._pending.discard(extension.id)  # it will not ask for its next event
        if self._fatal is None:
            self._fatal = error_type
            if self._request_id is None:
                self.spawn(self._send(protocol.DONE, self._done_header(None), b""))
        if self._request_id is not None:
            self.spawn(self._maybe_done())

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background, holding it until it is done."""
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _check_registered(self) -> None:
        external = [e for e in self.by_name.values() if e.path is not None]
        if not self._registered.done() and all(e.state != STARTED for e in external):
            self._registered.set_result(True)

    def _check_ready(self) -> None:
        ready = self._runtime_ready and all(e.asked for e in self.by_name.values())
        if ready and not self._ready.done():
            self._ready.set_result(True)

    # -- the HTTP API -------------------------------------------------------------------------

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        route = path[len(PREFIX) :]
        if method == "POST" and route == "/register":
            return self._register(headers, body)
        if (method, route) not in _IDENTIFIED:
            return _error(404, "InvalidRequest", f"Unknown path {path}")
        extension, refused = self._identify(headers)
        if extension is None:
            return refused
        if route == "/event/next":
            return await self._next(extension)
        return self._report_error(extension, headers, route)

    def _identify(self, headers: dict[str, str]) -> tuple[Extension | None, Reply]:
        identifier = headers.get("lambda-extension-identifier", "")
        if not identifier:
            message = "Missing Lambda-Extension-Identifier header"
            return None, _forbidden("Extension.MissingExtensionIdentifier", message)
        try:
            uuid.UUID(identifier)
        except ValueError:
            message = "Invalid Lambda-Extension-Identifier"
            return None, _forbidden("Extension.InvalidExtensionIdentifier", message)
        extension = self._by_id.get(identifier)
        if extension is None:
            message = f"Unknown extension {identifier}"
            return None, _forbidden("Extension.UnknownExtensionIdentifier", message)
        return extension, (0, {}, b"")

    def _register(self, headers: dict[str, str], body: bytes) -> Reply:
        name = headers.get("lambda-extension-name", "")
        if not name:
            return _forbidden("Extension.InvalidExtensionName", "Empty extension name")
        events, problem = _parse_events(body)
        if problem is not None:
            return problem
        extension = self.by_name.get(name)
        internal = extension is None or extension.path is None
        if extension is None:
            extension, refused = self._new_internal(name)
            if extension is None:
                return refused
        for event in events:
            if event not in (INVOKE, SHUTDOWN) or (internal and event == SHUTDOWN):
                return _forbidden("Extension.InvalidEventType", f"{event}: ErrorInvalidEventType")
        if extension.state != STARTED:
            return _state_error(extension, REGISTERED)
        extension.state, extension.events = REGISTERED, list(events)
        self._check_registered()
        answer = {
            "functionName": self._env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            "functionVersion": self._env.get("AWS_LAMBDA_FUNCTION_VERSION", ""),
            "handler": self._env.get("_HANDLER", ""),
        }
        reply_headers = {
            "Content-Type": "application/json",
            "Lambda-Extension-Identifier": extension.id,
        }
        return 200, reply_headers, json.dumps(answer).encode()

    def _new_internal(self, name: str) -> tuple[Extension | None, Reply]:
        """An extension that is not a file of /opt/extensions: one inside the runtime."""
        if self._init_over or self._init_reported:
            return None, _forbidden(
                "Extension.RegistrationClosed", "Extension registration closed already"
            )
        if len(self.by_name) >= MAX_EXTENSIONS:
            message = f"Extension limit ({MAX_EXTENSIONS}) reached"
            return None, _forbidden("Extension.TooManyExtensions", message)
        return self._add(Extension(name, None)), (0, {}, b"")

    async def _next(self, extension: Extension) -> Reply:
        if extension.state not in (REGISTERED, READY, RUNNING):
            return _state_error(extension, READY)
        if extension.handling is not None and extension.handling == self._request_id:
            self._pending.discard(extension.id)
            extension.handling = None
            self.spawn(self._maybe_done())
        extension.state, extension.asked = READY, True
        self._check_ready()
        event = await extension.mailbox.get()
        if event["eventType"] == INVOKE:
            extension.state, extension.handling = RUNNING, event["requestId"]
        headers = {
            "Content-Type": "application/json",
            "Lambda-Extension-Event-Identifier": str(uuid.uuid4()),
        }
        return 200, headers, json.dumps(event).encode()

    def _report_error(self, extension: Extension, headers: dict[str, str], route: str) -> Reply:
        reported = headers.get("lambda-extension-function-error-type", "")
        if not reported:
            message = "Lambda-Extension-Function-Error-Type not found"
            return _forbidden("Extension.MissingHeader", message)
        if route == "/init/error":
            if self._init_over or extension.state not in (REGISTERED, READY):
                return _state_error(extension, INIT_ERROR)
            extension.state, error_type = INIT_ERROR, "Extension.InitError"
        else:
            if extension.state in (INIT_ERROR, EXIT_ERROR, EXITED):
                return _state_error(extension, EXIT_ERROR)
            extension.state, error_type = EXIT_ERROR, "Extension.ExitError"
        extension.error_type = reported
        self._fail(error_type, f"{extension.name}: {reported}", extension)
        return 202, {"Content-Type": "application/json"}, b'{"status":"OK"}\n'


_IDENTIFIED = {("GET", "/event/next"), ("POST", "/init/error"), ("POST", "/exit/error")}


def _parse_events(body: bytes) -> tuple[list[str], Reply | None]:
    try:
        document = json.loads(body or b"{}")
    except ValueError as exc:
        return [], _forbidden("InvalidRequestFormat", str(exc))
    if not isinstance(document, dict):
        return [], _forbidden("InvalidRequestFormat", "the request body is not a JSON object")
    if document.get("configurationKeys"):
        message = "configurationKeys are deprecated; use environment variables instead"
        return [], _forbidden("InvalidRequestFormat", message)
    events = document.get("events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        return [], _forbidden("InvalidRequestFormat", "events must be a list of event types")
    return events, None


def _state_error(extension: Extension, target: str) -> Reply:
    message = (
        f"State transition from {extension.state} to {target} failed for extension "
        f"{extension.name}. Error: {_NOT_ALLOWED}"
    )
    return _forbidden("Extension.InvalidExtensionState", message)


def _forbidden(error_type: str, message: str) -> Reply:
    return _error(403, error_type, message)


def _error(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return status, {"Content-Type": "application/json"}, body


def _exit_reason(status: int) -> str:
    if status >= 0:
        return f"exit status {status}"
    try:
        return f"signal {signal.Signals(-status).name}"
    except ValueError:
        return f"signal {-status}"


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
