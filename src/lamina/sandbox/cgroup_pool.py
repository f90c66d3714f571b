"""Environment cgroups made ahead of time, so that a cold start does not wait for ``mkdir``.

Creating a cgroup usually takes about a millisecond, but a v1 memory cgroup sometimes takes
tens (the kernel waits for RCU grace periods): that wait was the largest part of cold-start
tails. The pool keeps a few empty groups ready, made by a worker thread; taking one renames it
to the environment's id (a rename within the parent is cheap and keeps every path
``…/lamina/<environment id>``, as logs and tools expect), and sets off a refill.

Moving the environment's first process into its groups has the same problem: every write to
``cgroup.procs`` takes the kernel's cgroup-migration lock for writing, and when no write came
shortly before, that waits for an RCU grace period (10–20 ms here, per hierarchy). A thread
that writes the server's own pid into its own groups every few milliseconds keeps the lock in
the mode where writers pass at once, as cgroup v2's ``favordynmods`` mount option does; the
price is a slightly slower fork and exit for every process of the host, which a machine
dedicated to running functions gladly pays.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections import deque
from pathlib import Path

from lamina.sandbox.cgroups import Cgroups, EnvironmentCgroup, reap_groups

log = logging.getLogger(__name__)

POOL_SIZE = 8
WARM_EVERY_S = 0.005
_PREFIX = "pool-"


class CgroupPool:
    def __init__(self, cgroups: Cgroups, size: int = POOL_SIZE) -> None:
        self.cgroups = cgroups
        self.size = size
        self._ready: deque[EnvironmentCgroup] = deque()
        self._lock = threading.Lock()
        self._refilling = False
        self._closed = False
        self._warmer: subprocess.Popen[bytes] | None = None

    def take(self, environment_id: str) -> EnvironmentCgroup:
        """The environment's groups, renamed from a ready one when there is one (whoever
        starts the environment still calls ``make``: it finds them made)."""
        wanted = self.cgroups.create_later(environment_id)
        with self._lock:
            ready = self._ready.popleft() if self._ready else None
        self.refill_soon()
        if ready is None:
            return wanted
        try:
            for key, path in ready.paths.items():
                path.rename(wanted.paths[key])
        except OSError as exc:
            log.warning("cannot use a pre-made cgroup: %s", exc)
            _remove_quietly(ready)
            return wanted
        return wanted

    def refill_soon(self) -> None:
        """Make groups until ``size`` are ready, on a thread of its own (one at a time)."""
        if not self.cgroups.enabled:
            return
        with self._lock:
            if self._refilling or self._closed or len(self._ready) >= self.size:
                return
            self._refilling = True
        threading.Thread(target=self._refill, name="cgroup-pool", daemon=True).start()

    def _refill(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._ready) >= self.size:
                        return
                group = self.cgroups.create_later(_PREFIX + uuid.uuid4().hex)
                try:
                    for path in group.paths.values():
                        path.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    log.warning("cannot make cgroups ahead of time: %s", exc)
                    _remove_quietly(group)
                    return
                with self._lock:
                    self._ready.append(group)
        finally:
            with self._lock:
                self._refilling = False

    def keep_attach_fast(self) -> None:
        """Start the process that keeps moving processes between cgroups cheap (see above).

        A process of its own, not a thread: its wake-ups every few milliseconds must not take
        the server's GIL from the invoke path.
        """
        v2 = self.cgroups.v2_base is not None
        bases = self.cgroups.bases()
        targets = [_warm_target(base, v2) for base in bases]
        own = [target for target in targets if target is not None]
        if own and len(own) == len(targets):
            source = str(Path(__file__).resolve().parents[2])
            joined = os.pathsep.join(map(str, bases))
            self._warmer = subprocess.Popen(
                [sys.executable, "-S", "-c", _WARMER, str(WARM_EVERY_S), source, joined, *own],
                stdin=subprocess.DEVNULL,
                env={"PATH": "/usr/bin:/bin"},
            )

    def close(self) -> None:
        """Remove the groups still waiting (a later start also sweeps leftovers)."""
        if self._warmer is not None:
            self._warmer.kill()
            self._warmer.wait()
            self._warmer = None
        with self._lock:
            self._closed = True
            ready, self._ready = list(self._ready), deque()
        for group in ready:
            _remove_quietly(group)

    def sweep(self) -> None:
        """Clear the groups, environments' and pre-made, that servers no longer running left
        behind; the warmer does it as soon as its server dies, this catches the rest."""
        removed = reap_groups(self.cgroups.bases())
        if removed:
            log.info("removed %d cgroups left by servers no longer running", removed)


_WARMER = """
import os, sys, time
every, source, bases, paths = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
parent = os.getppid()
fds = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in paths]
pid = str(os.getpid()).encode()
while os.getppid() == parent:
    for fd in fds:
        os.write(fd, pid)
    time.sleep(every)
sys.path.insert(0, source)
from pathlib import Path
from lamina.sandbox.cgroups import reap_groups
reap_groups([Path(base) for base in bases.split(os.pathsep)], owner=parent)
"""
"""Writes its own pid into its own cgroups (it is in the server's) every ``every`` seconds;
when the server is gone (even killed), clears the server's environments and exits."""


def _warm_target(base: Path, v2: bool) -> str | None:
    """The ``cgroup.procs`` the warmer writes itself into: the server's own group, or, when
    its user may not write there (a subtree delegated to a server that is not root), the
    delegated group itself on v1 (v2 allows no process beside child groups)."""
    folders = (base.parent,) if v2 else (base.parent, base)
    for folder in folders:
        path = folder / "cgroup.procs"
        if os.access(path, os.W_OK):
            return str(path)
    return None


def _remove_quietly(group: EnvironmentCgroup) -> None:
    for path in group.paths.values():
        with contextlib.suppress(OSError):
            Path(path).rmdir()
