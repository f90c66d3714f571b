"""SnapStart on the host side: new environments forked from a version's template environment.

A template is an ordinary namespace sandbox whose runtime finished the function's init and
waits (``runtime/python/snapshot.py``). To restore one environment from it, the host:

1. makes the new environment's control socketpair (its own end with SO_PASSCRED), output pipe
   and status pipe, and sends a RESTORE frame with the child's three ends attached
   (SCM_RIGHTS) on the template's control socket;
2. reads the child's HELLO on the new socket: the kernel attaches the sender's credentials,
   translated into the server's PID namespace, so the child's host pid comes from the kernel,
   not from anything the child could claim; the pid must be a child of the template's runtime;
3. moves the child into the environment's own cgroups (memory limit, CPU, pids, freezer, made
   ahead of time by the cgroup pool) and sends RESUME: only then does the child run the
   function's after-restore hooks and report READY.

The restored environment keeps the template's namespaces (mount with its /tmp, PID, IPC, UTS,
network): a process cannot enter new namespaces without privileges that function code must
never hold. See docs/snapstart.md for the trade-off. Killing it kills every process of its
cgroup, never the template or its siblings; the template reports its wait status on the
status pipe, as an environment's init does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import struct
from pathlib import Path

from lamina.errors import SandboxError
from lamina.runtime import protocol
from lamina.sandbox.cgroups import EnvironmentCgroup, Limits
from lamina.sandbox.namespace import NamespaceSandbox

_CREDENTIALS = struct.Struct("iII")  # struct ucred: pid, uid, gid
_EXIT_REPORT_GRACE_S = 0.5
"""How long after the child's exit the template has to report its status before the host
stops waiting (a wedged template must not keep an environment's end unnoticed)."""


class RestoredSandbox(NamespaceSandbox):
    """A sandbox forked from a template: its host pid is the runtime process itself."""

    def __init__(
        self,
        environment_id: str,
        pid: int,
        control: socket.socket,
        output_fd: int,
        status_fd: int,
        cgroup: EnvironmentCgroup,
        limits: Limits,
    ) -> None:
        super().__init__(environment_id, pid, control, output_fd, status_fd, cgroup, limits)
        if self._pidfd is not None:
            self._loop.add_reader(self._pidfd, self._on_pidfd)

    def _on_pidfd(self) -> None:
        """The process ended: the template's report should follow at once."""
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
        self._loop.call_later(_EXIT_REPORT_GRACE_S, self._gone_without_report)

    def _gone_without_report(self) -> None:
        if not self.exited.done():
            self.exited.set_result(-signal.SIGKILL)

    def kill(self) -> None:
        """Kill the runtime and every process it started (they are all in its cgroup)."""
        super().kill()
        _kill_all(self.cgroup)


async def restore(
    template: NamespaceSandbox,
    environment_id: str,
    group: EnvironmentCgroup,
    limits: Limits,
    timeout_s: float,
) -> RestoredSandbox:
    """Fork a new environment from ``template`` into ``group`` (made here with ``limits``)."""
    host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    host_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    out_read, out_write = os.pipe()
    status_read, status_write = os.pipe()
    try:
        try:
            socket.send_fds(
                template.control,
                [protocol.encode(protocol.RESTORE, {})],
                [child_end.fileno(), out_write, status_write],
            )
        finally:
            child_end.close()
            os.close(out_write)
            os.close(status_write)
        host_end.setblocking(False)
        pid = await asyncio.wait_for(_hello(host_end), timeout_s)
        _check_lineage(pid, template.pid)
        await asyncio.to_thread(_enter_cgroup, group, limits, pid)
    except BaseException as exc:
        host_end.close()  # a child still waiting for RESUME leaves on this end of file
        os.close(out_read)
        os.close(status_read)
        _kill_all(group)
        if isinstance(exc, (OSError, TimeoutError)):
            raise SandboxError(f"restore from the snapshot: {exc or 'timed out'}") from exc
        raise
    os.set_blocking(out_read, False)
    os.set_blocking(status_read, False)
    sandbox = RestoredSandbox(environment_id, pid, host_end, out_read, status_read, group, limits)
    try:
        host_end.send(protocol.encode(protocol.RESUME, {}))
    except OSError as exc:
        await sandbox.destroy()
        raise SandboxError(f"restore from the snapshot: {exc}") from exc
    return sandbox


async def _hello(sock: socket.socket) -> int:
    """The host pid of the process that sent the first frame on ``sock``."""
    loop = asyncio.get_running_loop()
    hello = _Hello(sock, loop.create_future())
    loop.add_reader(sock.fileno(), hello.readable)
    try:
        return await hello.done
    finally:
        loop.remove_reader(sock.fileno())


class _Hello:
    """Reads a HELLO frame and the sender's credentials the kernel attached to it."""

    def __init__(self, sock: socket.socket, done: asyncio.Future[int]) -> None:
        self.sock = sock
        self.done = done
        self.reader = protocol.FrameReader(max_frame=4096)
        self.sender: int | None = None

    def readable(self) -> None:
        if self.done.done():
            return
        try:
            data, ancillary, _flags, _address = self.sock.recvmsg(
                4096, socket.CMSG_SPACE(_CREDENTIALS.size)
            )
            self._take_credentials(ancillary)
            if not data:
                raise OSError("the snapshot's template is gone")
            frames = self.reader.feed(data)
        except BlockingIOError:
            return
        except (OSError, protocol.ProtocolError) as exc:
            self.done.set_exception(OSError(f"no HELLO from the restored environment: {exc}"))
            return
        if not frames:
            return
        if frames[0][0] != protocol.HELLO or self.sender is None:
            self.done.set_exception(OSError("the restored environment did not say HELLO"))
        else:
            self.done.set_result(self.sender)

    def _take_credentials(self, ancillary: list[tuple[int, int, bytes]]) -> None:
        for level, kind, value in ancillary:
            credentials = level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS
            if credentials and self.sender is None:
                self.sender = _CREDENTIALS.unpack(value[: _CREDENTIALS.size])[0]


def _check_lineage(pid: int, init_pid: int) -> None:
    """The pid must be a child of the template's runtime, itself a child of its init."""
    parent = _parent(pid)
    if parent == init_pid or _parent(parent) != init_pid:
        raise OSError(f"process {pid} is not a child of the snapshot's template")


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _enter_cgroup(group: EnvironmentCgroup, limits: Limits, pid: int) -> None:
    group.make(limits)
    group.attach(pid)


def _kill_all(group: EnvironmentCgroup) -> None:
    for pid in _cgroup_pids(group):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _cgroup_pids(group: EnvironmentCgroup) -> list[int]:
    path = group.paths["unified" if group.v2 else "pids"] / "cgroup.procs"
    try:
        return [int(line) for line in path.read_text().split()]
    except (OSError, ValueError):
        return []
