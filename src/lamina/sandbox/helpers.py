"""The privileged helper processes that make sandboxes: the jailer and the runtime zygotes.

Both speak the jailer's protocol (``jailer.send_request``): the word ``spawn`` with the
environment's descriptors; the helper answers once it has forked the process that makes the
sandbox, which reports init's pid on a pipe of the caller's. Each helper takes one request at
a time (a fork: about a millisecond), so each has its own lock; the sandboxes themselves are
made in parallel.
A helper that died is started again on the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lamina
from lamina.errors import SandboxError
from lamina.sandbox import jailer, zygote

_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
"""A minimal environment: every sandbox's init is a fork of a helper, so nothing of the
server's environment (credentials, settings) may be in it."""


class HelperProcess:
    def __init__(
        self, argv: Sequence[str], what: str, env: Mapping[str, str] | None = None
    ) -> None:
        self.argv = list(argv)
        self.what = what
        self.env = {**_ENV, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def jailer(cls) -> HelperProcess:
        return cls([sys.executable, "-m", "lamina.sandbox.jailer"], "the sandbox jailer")

    @classmethod
    def zygote(cls, interpreter: Path, runtime_dir: Path, env: Mapping[str, str]) -> HelperProcess:
        """``env``: what its forks need from the start (the dynamic loader's path)."""
        lamina_dir = Path(lamina.__file__).resolve().parent.parent
        argv = [str(interpreter), "-s", "-E", "-c", zygote.BOOT, str(lamina_dir), str(runtime_dir)]
        return cls(argv, f"the zygote of {interpreter}", env)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def spawn(self, fds: list[int]) -> None:
        """Ask for one sandbox; returns once the helper has forked its maker."""
        async with self._lock:
            sock = self._ensure()
            loop = asyncio.get_running_loop()
            try:
                jailer.send_request(sock, fds)
                reply = await loop.sock_recv(sock, 65536)
            except OSError as exc:
                self.stop()
                raise SandboxError(f"{self.what} is gone: {exc}") from exc
        if not reply:
            self.stop()
            raise SandboxError(f"{self.what} exited")
        answer = _json(reply)
        if "error" in answer:
            raise SandboxError(f"create sandbox: {answer['error']}")

    def start(self) -> None:
        """Start the process now if it is not running (it initialises on its own)."""
        self._ensure()

    def _ensure(self) -> socket.socket:
        if self._socket is not None and self._process is not None and self._process.poll() is None:
            return self._socket
        self.stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process = subprocess.Popen(
            self.argv,
            pass_fds=(theirs.fileno(),),
            env={**self.env, jailer.JAILER_FD_VARIABLE: str(theirs.fileno())},
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        ours.setblocking(False)
        self._socket = ours
        return ours

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._process = None


def _json(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    return value if isinstance(value, dict) else {"error": "malformed reply from the helper"}
