"""The ``namespace`` backend: every environment in its own namespaces, cgroup and root.

Host side. A jailer process (``jailer.py``) does the privileged work; this module asks it for
sandboxes, passing the environment's descriptors, and then watches each sandbox through a
pidfd of its init (to kill it, race-free) and a status pipe (how the runtime ended, or which
setup step failed). See ``docs/security.md`` for what each barrier stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from lamina.errors import SandboxError
from lamina.sandbox import jailer, linux, rootfs
from lamina.sandbox.base import Mounts, SandboxSpec, View
from lamina.sandbox.cgroups import Cgroups, EnvironmentCgroup, Limits

log = logging.getLogger(__name__)

SANDBOX_UID = 993
SANDBOX_GID = 990
"""The unprivileged ids functions run as (AWS's sbx_user1051 is 993)."""


class NamespaceSandbox:
    def __init__(
        self,
        spec: SandboxSpec,
        pid: int,
        control: socket.socket,
        output_fd: int,
        status_fd: int,
        cgroup: EnvironmentCgroup,
        limits: Limits,
    ) -> None:
        self.id = spec.environment_id
        self.pid = pid
        self.control = control
        self.output_fd = output_fd
        self.setup_error: str | None = None
        self._status_fd = status_fd
        self._status = bytearray()
        self.cgroup = cgroup
        self.limits = limits
        self._loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = self._loop.create_future()
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._pidfd = None
        self._loop.add_reader(status_fd, self._on_status)
        self._destroyed = False
        self._frozen = False
        self._peak_fd: int | None = None

    def _on_status(self) -> None:
        try:
            chunk = os.read(self._status_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self._status += chunk
            return
        self._loop.remove_reader(self._status_fd)
        if self.exited.done():
            return
        if self._status[:1] == b"S" and len(self._status) >= 5:
            self.exited.set_result(struct.unpack("<i", bytes(self._status[1:5]))[0])
            return
        if self._status[:1] == b"E":
            self.setup_error = self._status[1:].decode(errors="replace")
        self.exited.set_result(-signal.SIGKILL)

    def kill(self) -> None:
        if self._pidfd is None or self.exited.done():
            return
        with contextlib.suppress(ProcessLookupError, OSError):
            linux.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def init_done(self) -> None:
        try:
            self.cgroup.limit_cpu(self.limits)
        except OSError as exc:
            log.warning("cannot limit the CPU of environment %s: %s", self.id, exc)

    def freeze(self) -> None:
        if self.exited.done():
            return
        try:
            self.cgroup.freeze()
            self._frozen = True
        except OSError as exc:
            log.warning("cannot freeze environment %s: %s", self.id, exc)

    def thaw(self) -> None:
        if self._frozen:
            self._frozen = False
            self.cgroup.thaw()

    def out_of_memory(self) -> bool:
        return self.cgroup.oom_killed()

    def peak_memory_mb(self) -> int:
        if self._peak_fd is None:
            try:
                self._peak_fd = self.cgroup.open_peak_memory()
            except OSError:
                return 0
        return -(-self.cgroup.peak_memory_bytes(self._peak_fd) // (1024 * 1024))

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        with contextlib.suppress(OSError):
            self.thaw()  # frozen processes of a v1 cgroup cannot act on SIGKILL
        self.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), timeout=5)
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        for fd in (self._pidfd, self._status_fd, self.output_fd):
            if fd is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._loop.remove_reader(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.control.close()
        try:
            await asyncio.to_thread(self.cgroup.remove)
        except OSError as exc:
            log.warning("cannot remove the cgroups of environment %s: %s", self.id, exc)


class NamespaceBackend:
    name = "namespace"

    def __init__(
        self, work_dir: Path, cgroups: Cgroups, *, network: str = "none", seccomp: bool = True
    ) -> None:
        """``work_dir``: a folder of the server's for the empty mount point of new roots."""
        self.root_mount = work_dir / "root"
        self.root_mount.mkdir(parents=True, exist_ok=True)
        self.cgroups = cgroups
        self.seccomp = seccomp
        self.network = network
        self._jailer: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._lock = asyncio.Lock()

    def view(self, mounts: Mounts) -> View:
        return View(
            interpreter=str(mounts.interpreter),
            task_root=rootfs.TASK_ROOT,
            runtime_dir=rootfs.RUNTIME_DIR,
            sdk_dir=rootfs.SDK_DIR if mounts.sdk_dir else None,
            pycache_dir=rootfs.PYCACHE_DIR if mounts.pycache_dir else None,
            opt_dir=rootfs.OPT_DIR,
        )

    async def create(self, spec: SandboxSpec) -> NamespaceSandbox:
        limits = Limits(spec.memory_mb)
        group = self.cgroups.create_later(spec.environment_id)
        if spec.mounts.pycache_dir is not None:
            spec.mounts.pycache_dir.mkdir(parents=True, exist_ok=True)
            os.chown(spec.mounts.pycache_dir, SANDBOX_UID, SANDBOX_GID)
        request = {
            "argv": list(spec.argv),
            "env": {**spec.env, spec.control_fd_variable: str(jailer.CONTROL_FD)},
            "cwd": spec.cwd,
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
            "seccomp": self.seccomp,
            "network": self.network,
            "root_mount": str(self.root_mount),
            "steps": rootfs.plan(
                interpreter=spec.mounts.interpreter,
                task_root=spec.mounts.task_root,
                runtime_dir=spec.mounts.runtime_dir,
                sdk_dir=spec.mounts.sdk_dir,
                pycache_dir=spec.mounts.pycache_dir,
                opt_dir=spec.mounts.opt_dir,
                tmp_mb=spec.ephemeral_storage_mb,
                uid=SANDBOX_UID,
                gid=SANDBOX_GID,
            ),
            "cgroup": {
                "paths": {k: str(v) for k, v in group.paths.items()},
                "v2": group.v2,
                "limits": {"memory_mb": limits.memory_mb, "pids_max": limits.pids_max},
            },
        }
        host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_read, out_write = os.pipe()
        status_read, status_write = os.pipe()
        try:
            pid = await self._ask(request, [child_end.fileno(), out_write, status_write])
        except BaseException:
            host_end.close()
            os.close(out_read)
            os.close(status_read)
            raise
        finally:
            child_end.close()
            os.close(out_write)
            os.close(status_write)
        host_end.setblocking(False)
        os.set_blocking(out_read, False)
        os.set_blocking(status_read, False)
        return NamespaceSandbox(spec, pid, host_end, out_read, status_read, group, limits)

    async def _ask(self, request: dict[str, object], fds: list[int]) -> int:
        async with self._lock:
            sock = self._ensure_jailer()
            loop = asyncio.get_running_loop()
            try:
                jailer.send_request(sock, request, fds)
                reply = await loop.sock_recv(sock, 65536)
            except OSError as exc:
                self._forget_jailer()
                raise SandboxError(f"the sandbox jailer is gone: {exc}") from exc
        if not reply:
            self._forget_jailer()
            raise SandboxError("the sandbox jailer exited")
        answer = _json(reply)
        if "error" in answer:
            raise SandboxError(f"create sandbox: {answer['error']}")
        return int(answer["pid"])

    def _ensure_jailer(self) -> socket.socket:
        if self._socket is not None and self._jailer is not None and self._jailer.poll() is None:
            return self._socket
        self._forget_jailer()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # A minimal environment: every sandbox's init is a fork of the jailer, so nothing of
        # the server's environment (credentials, settings) may be in it.
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            jailer.JAILER_FD_VARIABLE: str(theirs.fileno()),
        }
        self._jailer = subprocess.Popen(
            [sys.executable, "-m", "lamina.sandbox.jailer"],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        ours.setblocking(False)
        self._socket = ours
        return ours

    def _forget_jailer(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._jailer is not None:
            with contextlib.suppress(ProcessLookupError):
                self._jailer.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._jailer.wait(timeout=5)
            self._jailer = None

    async def close(self) -> None:
        self._forget_jailer()


def _json(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    return value if isinstance(value, dict) else {"error": "malformed reply from the jailer"}
