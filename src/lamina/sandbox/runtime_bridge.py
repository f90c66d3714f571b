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
import os
import socket
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from lamina.runtime import protocol
from lamina.sandbox.extensions_api import PREFIX, Hub

if TYPE_CHECKING:
    from lamina.sandbox.runtime_api import Relay, Reply

Send = Callable[[int, dict[str, Any], bytes], Coroutine[Any, Any, None]]


def start_extensions(send: Send, setup: dict[str, Any]) -> Hub:
    """Launch the extensions of ``setup["dir"]``; ``setup["gate_fd"]``, when given, is told
    (``1`` or ``0``) once they have all registered, or one has failed: the runtime starts then."""
    hub = Hub(send, setup["env"], setup["cwd"])
    hub.launch(setup["dir"])
    gate = setup.get("gate_fd")
    if gate is not None:
        asyncio.get_running_loop().create_task(_open_gate(hub, int(gate)))
    return hub


async def _open_gate(hub: Hub, fd: int) -> None:
    ok = await hub.wait_registered()
    os.write(fd, b"1" if ok else b"0")
    os.close(fd)


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
