"""Extensions for every runtime: starting them, and standing between a managed runtime and the host.

A custom runtime already talks HTTP to the relay (``runtime_api.py``), which sees every step of
its lifecycle. A managed runtime (Python, Node.js) speaks frames on its control socket straight
to the host; when the function has external extensions, its control socket leads to the relay
instead, and ``run`` passes the frames on, holding READY back until the extensions are ready,
giving each INVOKE to the extensions as well, and telling the host when the post-runtime phase
is over (``protocol.DONE``). Environments without extensions keep the direct channel, at no cost.

Standard library only; runs on Python 3.9+.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from lamina.runtime import protocol
from lamina.sandbox.extensions_api import PREFIX, Hub

if TYPE_CHECKING:
    from lamina.sandbox.runtime_api import Relay, Reply

Send = Callable[[int, dict[str, Any], bytes], Coroutine[Any, Any, None]]


def start_extensions(send: Send, setup: dict[str, Any]) -> Hub:
    """Launch the extensions of ``setup["dir"]``. ``setup["gate_fd"]``, when given, is the
    environment's init (``jailer._start_relay``): told ``1`` or ``0`` once they have all
    registered or one has failed (the runtime starts then), it answers the runtime's pid,
    which shutdown signals."""
    hub = Hub(send, setup["env"], setup["cwd"])
    hub.launch(setup["dir"])
    if setup.get("gate_fd") is not None:
        gate = socket.socket(fileno=int(setup["gate_fd"]))
        gate.setblocking(False)
        hub.spawn(_open_gate(hub, gate))
    return hub


async def _open_gate(hub: Hub, gate: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ok = await hub.wait_registered()
    await loop.sock_sendall(gate, b"1" if ok else b"0")
    answer = b""
    while ok and not answer.endswith(b"\n"):
        chunk = await loop.sock_recv(gate, 32)
        if not chunk:
            return
        answer += chunk
    if ok:
        hub.stop_runtime = RuntimeProcess(int(answer), gate).stop


class RuntimeProcess:
    """The runtime as the relay sees it at shutdown: a pid in the environment's namespace."""

    def __init__(self, pid: int, gate: socket.socket) -> None:
        self.pid = pid
        self.gate = gate

    async def stop(self, grace_s: float) -> None:
        """SIGTERM, and SIGKILL if it is still there after ``grace_s`` (AWS's graceful
        shutdown of the runtime, before the extensions' SHUTDOWN); init is told first, so
        that the runtime's end does not end the environment."""
        with contextlib.suppress(OSError):
            self.gate.send(b"S")
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:
            return  # already gone
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
            if not await _readable(pidfd, grace_s):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                await _readable(pidfd, 0.5)
        except OSError:
            return
        finally:
            os.close(pidfd)


async def _readable(fd: int, timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await asyncio.wait_for(ready, timeout_s)
    except asyncio.TimeoutError:  # noqa: UP041 (not TimeoutError before Python 3.11)
        return False
    finally:
        loop.remove_reader(fd)
    return True


class ExtensionsOnly:
    """The HTTP API beside a managed runtime: the Extensions API alone."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes, too_large: bool = False
    ) -> Reply:
        if path.startswith(PREFIX + "/"):
            return await self.relay.extensions.handle(method, path, headers, body)
        return 404, {"Content-Type": "application/json"}, b'{"errorType":"InvalidRequest"}'


async def run(relay: Relay, runtime_fd: int) -> None:
    """Pass frames between the host (``relay.control``) and the runtime until the host leaves."""
    runtime = socket.socket(fileno=runtime_fd)
    runtime.setblocking(False)
    from_runtime = asyncio.get_running_loop().create_task(_from_runtime(relay, runtime))
    try:
        await _from_host(relay, runtime)
    finally:
        from_runtime.cancel()


async def _from_host(relay: Relay, runtime: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    reader = protocol.FrameReader()
    while True:
        data = await loop.sock_recv(relay.control, 1 << 20)
        if not data:
            os._exit(0)
        for kind, header, body in reader.feed(data):
            if kind == protocol.INVOKE:
                relay.extensions.invoke(header)
                await loop.sock_sendall(runtime, protocol.encode(kind, header, body))
            elif kind == protocol.SHUTDOWN:
                await relay.extensions.shutdown(header)
                os._exit(0)


async def _from_runtime(relay: Relay, runtime: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    reader = protocol.FrameReader()
    extensions = relay.extensions
    while True:
        data = await loop.sock_recv(runtime, 1 << 20)
        if not data:
            return  # the runtime ended: the environment's init reports how
        for kind, header, body in reader.feed(data):
            if kind == protocol.READY:
                if await extensions.wait_ready():
                    await relay.send(kind, {**header, **extensions.ready_header()}, body)
            elif kind == protocol.INIT_ERROR:
                if extensions.claim_init_report():
                    await relay.send(kind, {**header, **extensions.ready_header()}, body)
            else:
                await relay.send(kind, header, body)
                if kind in (protocol.RESPONSE, protocol.ERROR):
                    extensions.runtime_done()
