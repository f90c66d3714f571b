"""SnapStart inside an environment: the snapshot hooks, the template's loop, a restored child.

A SnapStart version's *template* is an ordinary environment whose runtime, after the init
phase, runs the before-snapshot hooks, reports READY and then waits here instead of serving
invocations: for each RESTORE frame from the host (with three descriptors attached: a new
control socket, output pipe and status pipe) it forks a child. The child takes the new
descriptors and returns from ``serve_template`` to become an environment of its own; the
template reaps its children and reports each one's wait status on that child's status pipe,
as an environment's init does.

Standard library only; runs on the function's interpreter (python3.12 and later).
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import signal
import socket
import struct
import sys
from typing import Any, Dict, List, Optional

HOOKS_MODULE = "snapshot_restore_py"
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
MAX_FDS_PER_READ = 48
_FDS_PER_RESTORE = 3


def run_before_snapshot() -> None:
    """The before-snapshot hooks, in the reverse order of their registration (AWS's order)."""
    module = sys.modules.get(HOOKS_MODULE)
    if module is None:
        return  # the function never imported the library: nothing is registered
    for func, args, kwargs in reversed(list(module.get_before_snapshot())):
        func(*args, **kwargs)


def run_after_restore() -> None:
    """Reseed what a fork leaves identical, then the after-restore hooks in registration order."""
    random.seed()
    module = sys.modules.get(HOOKS_MODULE)
    if module is None:
        return
    for func, args, kwargs in list(module.get_after_restore()):
        func(*args, **kwargs)


class _Children:
    """The template's restored children: pid → the write end of its status pipe."""

    def __init__(self) -> None:
        self.status_fds: Dict[int, int] = {}
        self.sigpipe: Any = signal.SIG_DFL

    def reap(self, _signum: int = 0, _frame: Any = None) -> None:
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            fd = self.status_fds.pop(pid, None)
            if fd is not None:
                _report(fd, b"S" + struct.pack("<i", os.waitstatus_to_exitcode(wait_status)))


def _report(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the host stopped listening: nothing else to tell
        os.write(fd, data)
    os.close(fd)


def serve_template(protocol: Any, sock: socket.socket) -> socket.socket:
    """Fork one child per RESTORE frame; returns only in a child, with its control socket.

    When the host closes the template's socket, the template exits (and the kernel ends its
    children with the namespace).
    """
    # What the init made lives as long as the template: kept out of the collector's sight, so
    # the children's first collections do not copy every page of it (as the zygote does).
    gc.collect()
    gc.freeze()
    children = _Children()
    signal.signal(signal.SIGCHLD, children.reap)
    children.sigpipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a closed status pipe
    reader = protocol.FrameReader()
    received: List[int] = []
    while True:
        data, fds, _flags, _address = socket.recv_fds(sock, 65536, MAX_FDS_PER_READ)
        received.extend(fds)
        if not data:
            os._exit(0)
        for kind, _header, _body in reader.feed(data):
            if kind != protocol.RESTORE or len(received) < _FDS_PER_RESTORE:
                os._exit(70)  # not the host's protocol: stop serving it
            mine, received[:] = received[:_FDS_PER_RESTORE], received[_FDS_PER_RESTORE:]
            child = _fork(children, sock, mine)
            if child is not None:
                return child


def _fork(children: _Children, template: socket.socket, fds: List[int]) -> Optional[socket.socket]:
    control, output, status = fds
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        pid = os.fork()
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.close(control)
        os.close(output)
        _report(status, b"E" + ("fork from the snapshot: %s" % exc).encode())
        return None
    if pid == 0:
        return _become_child(children, template, control, output, status)
    children.status_fds[pid] = status
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    os.close(control)
    os.close(output)
    return None


def _become_child(
    children: _Children, template: socket.socket, control: int, output: int, status: int
) -> socket.socket:
    """In the new child: its own descriptors in place of the template's, default signals."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, children.sigpipe)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    for fd in [*children.status_fds.values(), status]:
        os.close(fd)
    children.status_fds.clear()
    template.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.set_inheritable(control, False)
    return socket.socket(fileno=control)
