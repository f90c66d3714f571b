"""The ``process`` backend: each environment is a plain child process in its own session.

No isolation beyond the process boundary: the function runs as the server's user and sees the
host's files. It exists for development and for testing the layers above the sandbox; the
namespace backend is the one for untrusted code. Killing uses the process group, so helpers the
function started in the same group die with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from lamina.errors import SandboxError
from lamina.sandbox.base import Mounts, Sandbox, SandboxSpec, View
from lamina.sandbox.runtime_api import (
    EXTENSIONS_VARIABLE,
    INIT_ERROR_VARIABLE,
    RELAY_FDS_VARIABLE,
)


class ProcessSandbox:
    def __init__(
        self,
        spec: SandboxSpec,
        proc: subprocess.Popen[bytes],
        control: socket.socket,
        output_fd: int,
    ) -> None:
        self.id = spec.environment_id
        self.pid = proc.pid
        self.control = control
        self.output_fd = output_fd
        self._proc = proc
        self._loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = self._loop.create_future()
        self.setup_error: str | None = None
        self._pidfd = os.pidfd_open(proc.pid)
        self._loop.add_reader(self._pidfd, self._on_exit)
        self._destroyed = False

    def _on_exit(self) -> None:
        if self.exited.done():
            return
        # The leader has exited but is not reaped yet, so its process group id cannot have been
        # reused: kill whatever else the function left in the group, then reap.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        status = self._proc.poll()
        if status is None:
            return
        self._loop.remove_reader(self._pidfd)
        if not self.exited.done():
            self.exited.set_result(status)

    def init_done(self) -> None:
        return None

    def freeze(self) -> None:
        return None  # plain processes are not frozen

    def thaw(self) -> None:
        return None

    def out_of_memory(self) -> bool:
        return False  # no memory limit is enforced by this backend

    def peak_memory_mb(self) -> int:
        return 0

    def kill(self) -> None:
        if self.exited.done():
            return  # reaped: the pid and group id may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self._proc.kill()

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        self.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), timeout=5)
        self._on_exit()
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self.control.close()
        with contextlib.suppress(OSError):
            os.close(self.output_fd)


class ProcessBackend:
    name = "process"
    snapshots = False

    def view(self, mounts: Mounts) -> View:
        """The environment sees the host's folders where they are."""
        return View(
            interpreter=str(mounts.interpreter),
            task_root=str(mounts.task_root),
            runtime_dir=str(mounts.runtime_dir),
            sdk_dir=str(mounts.sdk_dir) if mounts.sdk_dir else None,
            pycache_dir=str(mounts.pycache_dir) if mounts.pycache_dir else None,
            opt_dir=str(mounts.opt_dir) if mounts.opt_dir else "/opt",
        )

    async def create(self, spec: SandboxSpec) -> ProcessSandbox:
        if spec.runtime_api or spec.extensions_dir is not None:
            return self._create_with_relay(spec)
        host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_read, out_write = os.pipe()
        env = dict(spec.env)
        env[spec.control_fd_variable] = str(child_end.fileno())
        try:
            proc = subprocess.Popen(
                spec.argv,
                env=env,
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out_write,
                stderr=out_write,
                pass_fds=(child_end.fileno(),),
                start_new_session=True,
            )
        except OSError as exc:
            host_end.close()
            os.close(out_read)
            raise SandboxError(f"start {spec.argv[0]} in {spec.cwd}: {exc.strerror}") from exc
        finally:
            child_end.close()
            os.close(out_write)
        host_end.setblocking(False)
        os.set_blocking(out_read, False)
        return ProcessSandbox(spec, proc, host_end, out_read)

    def _create_with_relay(self, spec: SandboxSpec) -> ProcessSandbox:
        """The runtime leads a new process group (in the server's session, so that another
        process can join it); the relay (``runtime_api.py``) joins it, holds the control
        socket and serves the Runtime API (a custom runtime) and the Extensions API (when the
        function has extensions: a managed runtime's frames then go through the relay, on a
        socketpair of their own). Unlike the namespace sandbox, the runtime does not wait for
        the extensions to register before it starts (READY still waits for them)."""
        host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        listener = socket.create_server(("127.0.0.1", 0))
        out_read, out_write = os.pipe()
        env = {**spec.env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{listener.getsockname()[1]}"}
        relay_env = {
            "PATH": "/usr/bin:/bin",
            RELAY_FDS_VARIABLE: f"{child_end.fileno()},{listener.fileno()}",
        }
        relay_fds = [child_end.fileno(), listener.fileno()]
        ends: tuple[socket.socket, socket.socket] | None = None
        argv: list[str] | None = list(spec.argv)
        if spec.runtime_api:
            argv = _entrypoint(spec, relay_env)
        else:
            ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            env[spec.control_fd_variable] = str(ends[0].fileno())
            relay_fds.append(ends[1].fileno())
        if spec.extensions_dir is not None:
            relay_env[EXTENSIONS_VARIABLE] = json.dumps(
                {
                    "dir": spec.extensions_dir,
                    "env": env,
                    "cwd": spec.cwd,
                    "runtime_fd": ends[1].fileno() if ends else None,
                }
            )
        try:
            leader = None
            if argv is not None:
                leader = subprocess.Popen(
                    argv, env=env, cwd=spec.cwd,
                    stdin=subprocess.DEVNULL, stdout=out_write, stderr=out_write,
                    pass_fds=(ends[0].fileno(),) if ends else (),
                    process_group=0,  # a group of its own that the relay can join
                )  # fmt: skip
            relay = subprocess.Popen(
                [sys.executable, "-m", "lamina.sandbox.runtime_api"], env=relay_env,
                stdin=subprocess.DEVNULL, stdout=out_write, stderr=out_write,
                pass_fds=relay_fds,
                process_group=leader.pid if leader is not None else 0,
            )  # fmt: skip
        except OSError as exc:
            host_end.close()
            os.close(out_read)
            raise SandboxError(f"start {spec.argv[0]} in {spec.cwd}: {exc.strerror}") from exc
        finally:
            child_end.close()
            listener.close()
            for end in ends or ():
                end.close()
            os.close(out_write)
        host_end.setblocking(False)
        os.set_blocking(out_read, False)
        return ProcessSandbox(spec, leader or relay, host_end, out_read)

    async def restore(self, template: Sandbox, environment_id: str, memory_mb: int) -> Sandbox:
        raise SandboxError("the process sandbox cannot restore from SnapStart snapshots")

    def prestart(self, interpreter: Path, runtime_dir: Path) -> None:
        return None  # nothing is kept ready: every environment executes its interpreter

    async def close(self) -> None:
        return None


def _entrypoint(spec: SandboxSpec, relay_env: dict[str, str]) -> list[str] | None:
    """A custom runtime's command, or None: the relay then reports the init error AWS gives."""
    entrypoint = next((p for p in spec.entrypoints if os.access(p, os.X_OK)), None)
    if entrypoint is not None:
        return [entrypoint, *spec.argv[1:]]
    found = " ".join(spec.entrypoints)
    relay_env[INIT_ERROR_VARIABLE] = json.dumps(
        {
            "errorMessage": f"Couldn't find valid bootstrap(s): [{found}]",
            "errorType": "Runtime.InvalidEntrypoint",
        }
    )
    return None
