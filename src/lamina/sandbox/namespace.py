"""The ``namespace`` backend: every environment in its own namespaces, cgroup and root.

Host side. A jailer process (``jailer.py``) does the privileged work; this module asks it for
sandboxes, passing the environment's descriptors, and then watches each sandbox through a
pidfd of its init (to kill it, race-free) and a status pipe (how the runtime ended, or which
setup step failed). See ``docs/security.md`` for what each barrier stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lamina.errors import SandboxError
from lamina.sandbox import jailer, linux, rootfs, userns
from lamina.sandbox.base import Mounts, Sandbox, SandboxSpec, View
from lamina.sandbox.cgroup_pool import CgroupPool
from lamina.sandbox.cgroups import PIDS_MAX, Cgroups, EnvironmentCgroup, Limits
from lamina.sandbox.egress import EgressHost
from lamina.sandbox.helpers import HelperProcess
from lamina.sandbox.netns_pool import NetnsPool, NetworkLease

log = logging.getLogger(__name__)

NETWORK_VARIABLE = "LAMINA_NETWORK"
"""A function that sets this variable to ``none`` gets loopback only on an ``egress`` server
(AWS has no such setting; a function can only ever get less network than the server's)."""
RUNTIME_API_PORT = 9001
"""Where AWS serves the Runtime API in an environment (its own loopback here)."""
ZYGOTE_RETRY_S = 60.0
"""How long a zygote that failed is left aside before it is started again."""

RESTORE_HANDSHAKE_S = 5.0
"""How long a template has to fork a child that introduces itself (milliseconds normally)."""

SANDBOX_UID = 993
SANDBOX_GID = 990
"""The unprivileged ids functions run as (AWS's sbx_user1051 is 993)."""


class NamespaceSandbox:
    def __init__(
        self,
        environment_id: str,
        pid: int,
        control: socket.socket,
        output_fd: int,
        status_fd: int,
        cgroup: EnvironmentCgroup,
        limits: Limits,
        network: tuple[NetnsPool, NetworkLease] | None = None,
    ) -> None:
        self.id = environment_id
        self.network = network
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
        if not self.cgroup.paths:
            return _peak_resident_mb(self.pid)
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
        if self.network is not None:
            pool, lease = self.network
            self.network = None
            pool.release(lease)


class NamespaceBackend:
    name = "namespace"
    snapshots = True

    def __init__(
        self,
        work_dir: Path,
        cgroups: Cgroups,
        *,
        network: str = "none",
        egress: EgressHost | None = None,
        seccomp: bool = True,
        zygotes: bool = True,
        rootless: bool = False,
    ) -> None:
        """``work_dir``: a folder of the server's for the empty mount point of new roots;
        ``network``: ``none``, ``host`` or ``egress`` (which needs ``egress``, the host set up
        for it; the backend closes it); ``zygotes``: start Python environments from
        pre-initialised zygotes; ``rootless``: the server is not root, so each environment is
        built in a user namespace of its own (``userns.py``)."""
        if (network == "egress") != (egress is not None):
            raise ValueError("the egress network needs the host set up for it, and only it")
        self.root_mount = work_dir / "root"
        self.root_mount.mkdir(parents=True, exist_ok=True)
        self.cgroups = cgroups
        self.cgroup_pool = CgroupPool(cgroups)
        self.cgroup_pool.sweep()
        self.cgroup_pool.refill_soon()
        self.cgroup_pool.keep_attach_fast()
        self.seccomp = seccomp
        self.network = network
        self.egress = egress
        self.netns_pool = NetnsPool(egress.network) if egress is not None else None
        if self.netns_pool is not None:
            self.netns_pool.refill_soon()
        self.zygotes = zygotes
        self.rootless = rootless
        if rootless:
            self.name = "namespace (rootless)"
        self._userns = _userns_request(rootless)
        self._jailer = HelperProcess.jailer()
        self._zygotes: dict[Path, HelperProcess] = {}
        self._zygote_broken_until: dict[Path, float] = {}

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
        limits = Limits(spec.memory_mb, cpu_mb=spec.cpu_mb)
        network = self.network
        if network == "egress" and spec.env.get(NETWORK_VARIABLE) == "none":
            network = "none"
        group = self.cgroup_pool.take(spec.environment_id)
        if spec.mounts.pycache_dir is not None:
            spec.mounts.pycache_dir.mkdir(parents=True, exist_ok=True)
            if not self.rootless:  # rootless: the server's own uid is the sandbox user
                os.chown(spec.mounts.pycache_dir, SANDBOX_UID, SANDBOX_GID)
        request = {
            "argv": list(spec.argv),
            "env": _environment(spec),
            "cwd": spec.cwd,
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
            "seccomp": self.seccomp,
            "network": network,
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
                resolv_conf=self._resolv_conf(network),
            ),
            "cgroup": {
                "paths": {k: str(v) for k, v in group.paths.items()},
                "v2": group.v2,
                "limits": {"memory_mb": limits.memory_mb, "pids_max": limits.pids_max},
            },
        }
        if self._userns is not None:
            request["userns"] = self._userns
        port = RUNTIME_API_PORT if network != "host" else 0  # 0: shared host ports
        if spec.runtime_api:
            request["runtime_api"] = {"port": port, "entrypoints": list(spec.entrypoints)}
        if spec.extensions_dir is not None:
            request["extensions"] = {"port": port, "dir": spec.extensions_dir}
        zygote = self._zygote_for(spec)
        request["in_place"] = zygote is not None
        host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_read, out_write = os.pipe()
        status_read, status_write = os.pipe()
        fds = [child_end.fileno(), out_write, status_write]
        lease = None
        try:
            lease = await self._network_lease() if network == "egress" else None
            pid = await self._spawn(zygote, spec, request, fds, lease)
        except BaseException:
            host_end.close()
            os.close(out_read)
            os.close(status_read)
            if lease is not None and self.netns_pool is not None:
                self.netns_pool.release(lease)
            raise
        finally:
            child_end.close()
            os.close(out_write)
            os.close(status_write)
        host_end.setblocking(False)
        os.set_blocking(out_read, False)
        os.set_blocking(status_read, False)
        leased = (self.netns_pool, lease) if self.netns_pool and lease else None
        return NamespaceSandbox(
            spec.environment_id, pid, host_end, out_read, status_read, group, limits, leased
        )

    def _resolv_conf(self, network: str) -> str | None:
        """The environment's resolv.conf, written for egress (None: the host's own)."""
        if network == "egress" and self.egress is not None:
            return self.egress.network.resolvers.content
        return None

    async def _network_lease(self) -> NetworkLease | None:
        """The environment's network namespace (egress): a ready one, or one made now."""
        if self.netns_pool is None:
            return None
        lease = self.netns_pool.take()
        if lease is not None:
            return lease
        try:
            return await asyncio.to_thread(self.netns_pool.make)
        except OSError as exc:
            raise SandboxError(f"create sandbox: network namespace: {exc}") from exc

    def _zygote_for(self, spec: SandboxSpec) -> HelperProcess | None:
        """The zygote to fork this environment from, or None to execute its interpreter."""
        interpreter = spec.mounts.interpreter
        if not (self.zygotes and spec.preloadable and _zygote_compatible(spec.env)):
            return None
        if self._zygote_broken_until.get(interpreter, 0.0) > time.monotonic():
            return None
        return self._zygote(interpreter, spec.mounts.runtime_dir)

    def _zygote(self, interpreter: Path, runtime_dir: Path) -> HelperProcess:
        helper = self._zygotes.get(interpreter)
        if helper is None:
            helper = HelperProcess.zygote(
                interpreter, runtime_dir, {"LD_LIBRARY_PATH": rootfs.LIBRARY_PATH}
            )
            self._zygotes[interpreter] = helper
        return helper

    async def restore(self, template: Sandbox, environment_id: str, memory_mb: int) -> Sandbox:
        """Fork an environment from a SnapStart template (``sandbox/snapshot.py``)."""
        from lamina.sandbox import snapshot  # it builds on NamespaceSandbox

        if not isinstance(template, NamespaceSandbox) or template.exited.done():
            raise SandboxError("the snapshot's template is gone")
        group = self.cgroup_pool.take(environment_id)
        try:
            return await snapshot.restore(
                template, environment_id, group, Limits(memory_mb), RESTORE_HANDSHAKE_S
            )
        except BaseException:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(group.remove)
            raise

    def prestart(self, interpreter: Path, runtime_dir: Path) -> None:
        if self.zygotes:
            self._zygote(interpreter, runtime_dir).start()

    async def _spawn(
        self,
        zygote: HelperProcess | None,
        spec: SandboxSpec,
        request: dict[str, Any],
        fds: list[int],
        lease: NetworkLease | None = None,
    ) -> int:
        """Ask the zygote, or the jailer; a zygote that cannot serve is set aside for a while
        (its environments then start by executing the interpreter) and the jailer asked."""
        if zygote is not None:
            try:
                return await self._ask(zygote, request, fds, lease)
            except SandboxError as exc:
                if str(exc).startswith("create sandbox:"):
                    raise  # a setup step failed: the jailer would fail the same way
                log.warning("%s failed (%s); starting environments without it for a while",
                            zygote.what, exc)  # fmt: skip
                zygote.stop()
                self._zygote_broken_until[spec.mounts.interpreter] = (
                    time.monotonic() + ZYGOTE_RETRY_S
                )
                request["in_place"] = False
        return await self._ask(self._jailer, request, fds, lease)

    @staticmethod
    async def _ask(
        helper: HelperProcess,
        request: dict[str, Any],
        fds: list[int],
        lease: NetworkLease | None = None,
    ) -> int:
        """The host pid of the new sandbox's init."""
        spec_read = jailer.write_spec(request)
        report_read, report_write = os.pipe()
        netns = [lease.netns_fd] if lease is not None else []
        try:
            try:
                await helper.spawn([*fds, spec_read, report_write, *netns])
            finally:
                os.close(spec_read)
                os.close(report_write)
            report = await _read_all(report_read)
        finally:
            os.close(report_read)
        try:
            return jailer.read_report(report)
        except OSError as exc:
            raise SandboxError(f"create sandbox: {exc}") from exc

    def zygote_pids(self) -> dict[str, int]:
        """The running zygotes, by interpreter (for diagnostics and tests)."""
        return {str(k): v.pid for k, v in self._zygotes.items() if v.pid is not None}

    async def close(self) -> None:
        self.cgroup_pool.close()
        if self.netns_pool is not None:
            self.netns_pool.close()
        if self.egress is not None:
            self.egress.close()
        self._jailer.stop()
        for helper in self._zygotes.values():
            helper.stop()
        self._zygotes.clear()


async def _read_all(fd: int) -> bytes:
    """Everything a pipe carries until its last writer closes it, without blocking the loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    chunks: list[bytes] = []
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            chunks.append(chunk)
            return
        loop.remove_reader(fd)
        if not done.done():
            done.set_result(b"".join(chunks))

    loop.add_reader(fd, readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)


def _userns_request(rootless: bool) -> dict[str, Any] | None:
    """What the jailer needs for rootless environments: their process limit, when the
    kernel counts processes per user namespace (it stands in for, or doubles, pids.max)."""
    if not rootless:
        return None
    return {"nproc": PIDS_MAX if userns.nproc_counts_per_namespace() else None}


def _peak_resident_mb(init_pid: int) -> int:
    """Without a memory cgroup: the largest peak resident size of init's children (the
    runtime, and the Runtime API relay), from the host's /proc."""
    try:
        children = Path(f"/proc/{init_pid}/task/{init_pid}/children").read_text().split()
    except OSError:
        return 0
    peak_kb = 0
    for child in children:
        try:
            with Path(f"/proc/{child}/status").open() as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
                        break
        except (OSError, ValueError):
            continue
    return -(-peak_kb // 1024)


def _environment(spec: SandboxSpec) -> dict[str, str]:
    if spec.runtime_api:
        return dict(spec.env)  # the relay holds the control socket, not the runtime
    return {**spec.env, spec.control_fd_variable: str(jailer.CONTROL_FD)}


def _zygote_compatible(env: Mapping[str, str]) -> bool:
    """Whether a zygote's process is what executing the interpreter with ``env`` would make:
    variables read only at start-up (by the interpreter or the dynamic loader) must be the
    ones the zygote started with."""
    if env.get("LD_LIBRARY_PATH") != rootfs.LIBRARY_PATH:
        return False
    return not any(key.startswith(("PYTHON", "LD_")) and key != "LD_LIBRARY_PATH" for key in env)
