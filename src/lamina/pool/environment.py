"""One execution environment: a sandbox running a managed runtime, one invocation at a time.

The environment owns its sandbox's control socket and output pipe. It turns the runtime's frames
into Executions, writes the platform's log lines (INIT_START, START, END, REPORT) around the
function's own output into its log stream, enforces the timeout, and converts every way a
sandbox can die (timeout, exit, crash, protocol violation) into the error AWS reports. After any
such failure the environment is dead and answers no more invocations.

With external extensions (``pool/extensions.py``), an invocation whose extensions subscribe to
INVOKE returns its Execution as soon as the runtime answers, while ``settling`` waits for the
extensions' DONE before END and REPORT are written (REPORT's Duration includes that
post-runtime phase, as on AWS) and the pool may reuse the environment; and ``destroy`` first
sends SHUTDOWN to the extensions subscribed to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from lamina.billing import billed_duration_ms, billed_restore_ms
from lamina.errors import (
    EnvironmentGoneError,
    SandboxError,
    SnapStartException,
    SnapStartTimeoutException,
)
from lamina.model import Execution, ResponseSink
from lamina.pool.extensions import SHUTDOWN_GRACE_S, SHUTDOWN_TIMEOUT_S, ExtensionSet, parse
from lamina.pool.streaming import ResponseChunks
from lamina.runtime import protocol
from lamina.sandbox import Sandbox
from lamina.telemetry import LogStore, lines

MAX_RESPONSE_BYTES = 6_291_556
_FRAME_LIMIT = MAX_RESPONSE_BYTES + 64 * 1024
_TAIL_KEEP_BYTES = 8 * 1024
_MAX_LINE_BYTES = 256 * 1024
MAX_LOG_BYTES_PER_INVOCATION = 16 * 1024 * 1024
"""Output past this within one invocation is read and dropped, so a runaway print loop cannot
fill the server's disk; one line says so."""
_EXIT_GRACE_S = 1.0
_RESTORE_TIMEOUT = "Lambda couldn't restore the snapshot within the timeout limit."
_RESTORE_HOOK_FAILED = (
    "The afterRestore() runtime hook encountered an error. For more information, check the "
    "Amazon CloudWatch logs."
)


@dataclass(frozen=True)
class Invocation:
    request_id: str
    version: str
    invoked_function_arn: str
    payload: bytes
    timeout_s: float
    client_context: str | None = None
    trace_id: str | None = None
    stream: ResponseSink | None = None


@dataclass(frozen=True)
class LogTarget:
    store: LogStore
    group: str
    stream: str


class Environment:
    def __init__(self, sandbox: Sandbox, key: str, memory_mb: int, log: LogTarget) -> None:
        self.id = sandbox.id
        self.key = key
        self.sandbox = sandbox
        self.memory_mb = memory_mb
        self.log = log
        self.alive = True
        self.busy = False
        self.last_used = time.monotonic()
        self.init_duration_ms: float | None = None
        self.restore: tuple[float, int] | None = None
        """(Restore Duration, Billed Restore Duration) of an environment restored from a
        SnapStart snapshot, for its first REPORT."""
        self.report_init_duration = True
        """False for provisioned environments: their init ran before any invocation, so no
        REPORT line carries it (as on AWS)."""
        self._loop = asyncio.get_running_loop()
        self._frames = protocol.FrameReader(max_frame=_FRAME_LIMIT)
        self._waiter: asyncio.Future[tuple[int, dict[str, object], bytes]] | None = None
        self._init_failure: tuple[str, bytes] | None = None
        self._first_invocation = True
        self._max_rss_kb = 0
        self._partial = bytearray()
        self._capture: deque[str] | None = None
        self._capture_bytes = 0
        self._logged_bytes, self._dropping = 0, False
        self._reading = True
        self._freeze_timer: asyncio.TimerHandle | None = None
        self._sink: ResponseSink | None = None
        self._chunks: ResponseChunks | None = None
        self.extensions: ExtensionSet | None = None
        self.settling: asyncio.Task[None] | None = None
        """The current invocation's post-runtime phase (extensions), while it lasts."""
        self._shutdown_reason: str | None = None
        self._shutting_down: asyncio.Task[None] | None = None
        self._channel_closed: asyncio.Future[None] = self._loop.create_future()
        self._loop.add_reader(sandbox.control.fileno(), self._on_control)
        self._loop.add_reader(sandbox.output_fd, self._on_output)
        sandbox.exited.add_done_callback(self._on_exited)

    # -- lifecycle -------------------------------------------------------------------------

    async def wait_ready(self, started_at: float, timeout_s: float) -> None:
        """Wait for the runtime's init to finish; a failed init is kept for the first invoke."""
        self._waiter = self._loop.create_future()
        try:
            kind, header, body = await asyncio.wait_for(self._waiter, timeout_s)
        except TimeoutError:
            self._init_failure = ("Sandbox.Timedout", b"")
            await self.destroy()
        except EnvironmentGoneError as gone:
            if self.sandbox.setup_error is not None:
                raise SandboxError(self.sandbox.setup_error) from gone
            self._init_failure = ("Runtime.ExitError", str(gone).encode())
        else:
            self._take_extensions(header)
            if kind == protocol.INIT_ERROR:
                error_type = _init_error_type(header, body)
                self._init_failure = (error_type, body)
            else:
                self.sandbox.init_done()
        self.init_duration_ms = (time.perf_counter() - started_at) * 1000
        if self._init_failure is not None:
            self._emit(lines.init_report(self.init_duration_ms, self._init_failure[0]))

    @property
    def init_failure(self) -> tuple[str, bytes] | None:
        """(error type, error document) when the init phase failed."""
        return self._init_failure

    async def wait_restored(self, started_at: float, timeout_s: float) -> None:
        """Wait for a restored environment's after-restore hooks; writes RESTORE_REPORT.

        A failure destroys the environment and raises AWS's error for the invocation:
        SnapStartTimeoutException, or SnapStartException when a hook failed or the runtime died.
        """
        self._waiter = self._loop.create_future()
        failure: Exception | None = None
        status = error_type = None
        try:
            kind, header, body = await asyncio.wait_for(self._waiter, timeout_s)
        except TimeoutError:
            status, failure = "timeout", SnapStartTimeoutException(_RESTORE_TIMEOUT)
        except EnvironmentGoneError as gone:
            if self.sandbox.setup_error is not None:
                raise SandboxError(self.sandbox.setup_error) from gone
            status, error_type = "error", "Runtime.ExitError"
            failure = SnapStartException(_RESTORE_HOOK_FAILED)
        else:
            if kind != protocol.READY:
                status, error_type = "error", str(header.get("error_type") or _error_type(body))
                failure = SnapStartException(_RESTORE_HOOK_FAILED)
        duration_ms = (time.perf_counter() - started_at) * 1000
        self._emit(lines.restore_report(duration_ms, status, error_type))
        if failure is not None:
            await self.destroy()
            raise failure
        hooks_ms = header.get("restore_ms")
        billed = billed_restore_ms(hooks_ms if isinstance(hooks_ms, (int, float)) else 0.0)
        self.restore = (duration_ms, billed)
        self.sandbox.init_done()

    @property
    def init_error(self) -> str | None:
        """The error type of a failed init (reported by the first invocation), or None."""
        return self._init_failure[0] if self._init_failure is not None else None

    def freeze_later(self, delay_s: float) -> None:
        """Freeze the sandbox if it is still idle after ``delay_s`` (hot ones never are)."""
        self._cancel_freeze()
        self._freeze_timer = self._loop.call_later(delay_s, self._freeze_if_idle)

    def _freeze_if_idle(self) -> None:
        self._freeze_timer = None
        if self.alive and not self.busy:
            self.sandbox.freeze()

    def thaw(self) -> None:
        self._cancel_freeze()
        self.sandbox.thaw()

    def _cancel_freeze(self) -> None:
        if self._freeze_timer is not None:
            self._freeze_timer.cancel()
            self._freeze_timer = None

    def _take_extensions(self, header: dict[str, object]) -> None:
        described = parse(header.get("extensions"))
        if described:
            self.extensions = ExtensionSet(described)
            for line in self.extensions.lines():
                self._emit(line)

    async def destroy(self) -> None:
        """Stop the environment for good (extensions subscribed to SHUTDOWN get it first).
        Safe to call twice."""
        self.alive = False
        self._cancel_freeze()
        if self._shutting_down is None and self.extensions and self.extensions.shutdown:
            self._shutting_down = self._loop.create_task(self._shut_extensions_down())
        if self._shutting_down is not None:
            await asyncio.shield(self._shutting_down)
        self._stop_reading()
        await self.sandbox.destroy()

    async def _shut_extensions_down(self) -> None:
        """SHUTDOWN with AWS's deadline; the relay closes the channel when it is over."""
        if self.sandbox.exited.done() or self._channel_closed.done():
            return
        with contextlib.suppress(OSError):
            self.sandbox.thaw()
        header = {
            "reason": self._shutdown_reason or "spindown",
            "deadline_ms": int(time.time() * 1000 + SHUTDOWN_TIMEOUT_S * 1000),
        }
        try:
            await self._loop.sock_sendall(
                self.sandbox.control, protocol.encode(protocol.SHUTDOWN, header)
            )
        except OSError:
            return
        ended: set[asyncio.Future[Any]] = {self._channel_closed, self.sandbox.exited}
        await asyncio.wait(
            ended,
            timeout=SHUTDOWN_TIMEOUT_S + SHUTDOWN_GRACE_S,
            return_when=asyncio.FIRST_COMPLETED,
        )

    # -- invocation ------------------------------------------------------------------------

    async def invoke(self, invocation: Invocation) -> Execution:
        """Run one invocation and write its log lines; never raises for the function's faults.

        With extensions subscribed to INVOKE, it returns as soon as the runtime has answered;
        ``settling`` then waits for the extensions and writes END and REPORT."""
        self.settling = None
        self._capture, self._capture_bytes = deque(), 0
        self._logged_bytes, self._dropping = 0, False
        self._sink, self._chunks = invocation.stream, None
        self._emit(lines.start(invocation.request_id, invocation.version))
        init_ms = (
            self.init_duration_ms if self._first_invocation and self.report_init_duration else None
        )
        restore = self.restore if self._first_invocation else None
        self._first_invocation = False
        started = time.perf_counter()
        outcome = (
            self._init_failure_payload(invocation)
            if self._init_failure is not None
            else await self._exchange(invocation)
        )
        payload, error_type, status = outcome
        self._sink, self._chunks = None, None
        duration_ms = (time.perf_counter() - started) * 1000
        if status == "timeout":
            duration_ms = invocation.timeout_s * 1000
        if self.extensions is not None and self._has_post_runtime_phase(status):
            self._drain_output()
            log, self._capture = list(self._capture), None
            self.settling = self._loop.create_task(
                self._settle(invocation, started, init_ms, (error_type, status))
            )
            max_memory_mb = self._max_memory_mb()
        else:
            max_memory_mb = self._close(
                invocation, duration_ms, init_ms, (error_type, status), restore
            )
            log, self._capture = list(self._capture), None
            self.last_used = time.monotonic()
            broken = status in ("timeout", "error")
            if broken or self._init_failure is not None:
                await self.destroy()
        return Execution(
            payload=payload,
            error_type=error_type,
            duration_ms=duration_ms,
            init_duration_ms=init_ms,
            restore_duration_ms=restore[0] if restore else None,
            max_memory_mb=max_memory_mb,
            status=None if status == "handled" else status,
            log=log,
        )

    def _close(
        self,
        invocation: Invocation,
        duration_ms: float,
        init_ms: float | None,
        outcome: tuple[str | None, str | None],
        restore: tuple[float, int] | None = None,
    ) -> int:
        """END and REPORT, after the invocation's last output; the memory REPORT gives.
        ``restore``: (Restore Duration, Billed Restore Duration) of a restored environment's
        first invocation."""
        error_type, status = outcome
        self._drain_output()
        self._flush_partial_line()
        self._emit(lines.end(invocation.request_id))
        max_memory_mb = self._max_memory_mb()
        self._emit(
            lines.report(
                invocation.request_id,
                duration_ms=duration_ms,
                billed_ms=billed_duration_ms(duration_ms, init_ms, restore[1] if restore else 0),
                memory_mb=self.memory_mb,
                max_memory_mb=max_memory_mb,
                init_duration_ms=init_ms,
                status=None if status == "handled" else status,
                error_type=error_type if status == "error" else None,
                restore=restore,
            )
        )
        return max_memory_mb

    def _max_memory_mb(self) -> int:
        return self.sandbox.peak_memory_mb() or math.ceil(self._max_rss_kb / 1024)

    def _has_post_runtime_phase(self, status: str | None) -> bool:
        extensions = self.extensions
        return (
            extensions is not None
            and extensions.invoke
            and self.alive
            and status in (None, "handled")
            and self._init_failure is None
        )

    async def _settle(
        self,
        invocation: Invocation,
        started: float,
        init_ms: float | None,
        outcome: tuple[str | None, str | None],
    ) -> None:
        """The post-runtime phase: the extensions subscribed to INVOKE finish, within the
        function's timeout; then END and REPORT, whose Duration covers both phases."""
        assert self.extensions is not None
        remaining_s = invocation.timeout_s - (time.perf_counter() - started)
        done = await self.extensions.wait_done(invocation.request_id, remaining_s)
        duration_ms = (time.perf_counter() - started) * 1000
        if done is None:
            self._emit(lines.timed_out(invocation.request_id, invocation.timeout_s))
            outcome, duration_ms = ("Sandbox.Timedout", "timeout"), invocation.timeout_s * 1000
            self._retire("timeout")
        elif not done:
            outcome = (self.extensions.failure or "Extension.Crash", "error")
            self._retire("failure")
        self._close(invocation, duration_ms, init_ms, outcome)
        self.last_used = time.monotonic()

    def _retire(self, reason: str) -> None:
        """Use the environment no more; its extensions hear ``reason`` when it is destroyed."""
        self.alive = False
        self._shutdown_reason = self._shutdown_reason or reason

    async def _exchange(self, invocation: Invocation) -> tuple[bytes, str | None, str | None]:
        """Send the event and wait for the outcome: (payload, error type, REPORT status)."""
        header = {
            "request_id": invocation.request_id,
            "deadline_ms": int(time.time() * 1000 + invocation.timeout_s * 1000),
            "invoked_function_arn": invocation.invoked_function_arn,
            "client_context": invocation.client_context,
            "trace_id": invocation.trace_id,
        }
        self._waiter = self._loop.create_future()
        try:
            await self._loop.sock_sendall(
                self.sandbox.control, protocol.encode(protocol.INVOKE, header, invocation.payload)
            )
            kind, reply, body = await asyncio.wait_for(self._waiter, invocation.timeout_s)
        except TimeoutError:
            if self.extensions is not None and self.extensions.shutdown:
                self._retire("timeout")  # destroy tells the extensions, then kills
            else:
                self.sandbox.kill()
            self._emit(lines.timed_out(invocation.request_id, invocation.timeout_s))
            return _timeout_error(invocation), "Sandbox.Timedout", "timeout"
        except (EnvironmentGoneError, OSError) as gone:
            error_type = (
                "Runtime.OutOfMemory" if self.sandbox.out_of_memory() else "Runtime.ExitError"
            )
            return self._exit_error(invocation.request_id, gone, error_type), error_type, "error"
        self._max_rss_kb = max(self._max_rss_kb, _int(reply.get("max_rss_kb")))
        if reply.get("exiting"):
            self._retire("failure")  # the runtime ends after this error (Node.js: uncaught)
        if kind == protocol.RESPONSE:
            if self._chunks is None:
                return body, None, None
            payload, too_large = self._chunks.finish()
            return payload, too_large, None if too_large is None else "handled"
        return body, str(reply.get("error_type") or _error_type(body)), "handled"

    def _init_failure_payload(self, invocation: Invocation) -> tuple[bytes, str | None, str | None]:
        assert self._init_failure is not None
        error_type, body = self._init_failure
        if error_type == "Sandbox.Timedout":
            return _timeout_error(invocation), error_type, "timeout"
        if error_type == "Runtime.ExitError" or error_type.startswith("Extension."):
            reason = body.decode() or "Runtime exited without providing a reason"
            message = f"RequestId: {invocation.request_id} Error: {reason}"
            self._emit(f"{message}\n{error_type}")
            return _error_doc(message, error_type), error_type, "error"
        return body, error_type, "error"

    def _exit_error(self, request_id: str, gone: Exception, error_type: str) -> bytes:
        reason = str(gone) if isinstance(gone, EnvironmentGoneError) else "Runtime exited"
        message = f"RequestId: {request_id} Error: {reason}"
        self._emit(f"{message}\n{error_type}")
        return _error_doc(message, error_type)

    # -- channel and output ----------------------------------------------------------------

    def _on_control(self) -> None:
        try:
            data = self.sandbox.control.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._loop.remove_reader(self.sandbox.control.fileno())
            self._loop.call_later(_EXIT_GRACE_S, self.sandbox.kill)
            if not self._channel_closed.done():
                self._channel_closed.set_result(None)
            return
        try:
            frames = self._frames.feed(data)
        except protocol.ProtocolError:
            self.sandbox.kill()
            return
        for frame in frames:
            if frame[0] == protocol.RESPONSE_CHUNK:
                self._take_chunk(frame[1], frame[2])
            elif frame[0] == protocol.DONE:
                self._on_done(frame[1])
            elif self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(frame)

    def _take_chunk(self, header: dict[str, object], body: bytes) -> None:
        """A piece of a streamed response (pool/streaming.py does the rest)."""
        if self._chunks is None:
            self._chunks = ResponseChunks(self._sink)
        self._chunks.take(header, body)

    def _on_done(self, header: dict[str, object]) -> None:
        if self.extensions is not None:
            self.extensions.on_done(header)
            if self.extensions.failure:
                self._retire("failure")

    def _on_exited(self, exited: asyncio.Future[int]) -> None:
        self.alive = False
        if self.extensions is not None:
            self.extensions.gone()
        status = exited.result()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(EnvironmentGoneError(_exit_reason(status)))

    def _on_output(self) -> None:
        self._drain_output()

    def _drain_output(self) -> None:
        while True:
            try:
                chunk = os.read(self.sandbox.output_fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self.sandbox.output_fd)
                return
            self._take_output(chunk)

    def _take_output(self, chunk: bytes) -> None:
        self._partial += chunk
        while True:
            end = self._partial.find(b"\n")
            if end < 0:
                if len(self._partial) > _MAX_LINE_BYTES:
                    self._flush_partial_line()
                return
            line = bytes(self._partial[:end])
            del self._partial[: end + 1]
            self._emit_output(_text(line))

    def _flush_partial_line(self) -> None:
        if self._partial:
            line, self._partial = bytes(self._partial), bytearray()
            self._emit_output(_text(line))

    def _emit_output(self, line: str) -> None:
        """A line the function wrote: logged unless it is over its invocation's budget."""
        self._logged_bytes += len(line) + 1
        if self._logged_bytes <= MAX_LOG_BYTES_PER_INVOCATION:
            self._emit(line)
        elif not self._dropping:
            self._dropping = True
            self._emit(
                f"lamina: this invocation wrote more than {MAX_LOG_BYTES_PER_INVOCATION} bytes "
                "of output; the rest is dropped"
            )

    def _emit(self, line: str) -> None:
        self.log.store.append(self.log.group, self.log.stream, int(time.time() * 1000), line)
        if self._capture is not None:
            self._capture.append(line)
            self._capture_bytes += len(line) + 1
            while self._capture_bytes > _TAIL_KEEP_BYTES and len(self._capture) > 1:
                self._capture_bytes -= len(self._capture.popleft()) + 1

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._drain_output()
            self._flush_partial_line()
            for fd in (self.sandbox.control.fileno(), self.sandbox.output_fd):
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(fd)


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").replace("\r", "\n")


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


_HEADER_NAMED_INIT_ERRORS = ("Extension.", "Runtime.BeforeSnapshotError")


def _init_error_type(header: dict[str, object], body: bytes) -> str:
    """An extension's failure, or a SnapStart before-snapshot hook's, is named in the header;
    a runtime's, in its error document."""
    named = str(header.get("error_type") or "")[:128]
    return named if named.startswith(_HEADER_NAMED_INIT_ERRORS) else _error_type(body)


def _error_type(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return "Unhandled"
    return str(doc.get("errorType") or "Unhandled") if isinstance(doc, dict) else "Unhandled"


def _error_doc(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _timeout_error(invocation: Invocation) -> bytes:
    message = (
        f"RequestId: {invocation.request_id} Error: "
        f"Task timed out after {invocation.timeout_s:.2f} seconds"
    )
    return _error_doc(message, "Sandbox.Timedout")


def _exit_reason(status: int) -> str:
    if status == 0:
        return "Runtime exited without providing a reason"
    if status < 0:
        return f"Runtime exited with error: signal: {_signal_name(-status)}"
    return f"Runtime exited with error: exit status {status}"


def _signal_name(number: int) -> str:
    names = {9: "killed", 11: "segmentation fault", 6: "aborted", 15: "terminated"}
    return names.get(number, f"signal {number}")
