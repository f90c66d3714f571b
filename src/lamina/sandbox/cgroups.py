"""One cgroup per execution environment, on cgroup v1 hierarchies or on cgroup v2 alike.

Each environment gets a memory limit (its MemorySize; tmpfs pages of its /tmp are charged here
too), a CPU quota proportional to memory as on AWS (1,769 MB = one vCPU), a process limit, and a
freezer. Groups are created under the server's own cgroup of each hierarchy, so limits the host
puts on lamina still apply, and removed when the environment ends.

Layout: ``<server's cgroup>/lamina/<server pid>-<environment id>`` in each v1 controller used
(memory, cpu, pids, freezer), or in the v2 unified hierarchy. The server's pid in the name tells
whose a group is: several servers may share a hierarchy, and the groups of a server that died
(``kill -9``) are found and cleared, processes included, without touching a live server's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MB_PER_VCPU = 1769
CPU_PERIOD_US = 100_000
PIDS_MAX = 1024
ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer")
GROUP = "lamina"


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    pids_max: int = PIDS_MAX
    cpu_mb: int | None = None
    """The memory size whose CPU share applies, when not ``memory_mb``'s."""

    @property
    def cpu_quota_us(self) -> int:
        return max(1000, CPU_PERIOD_US * (self.cpu_mb or self.memory_mb) // MB_PER_VCPU)


class Cgroups:
    """Where this host keeps cgroups, and how to make an environment's."""

    def __init__(self, v1_bases: dict[str, Path] | None, v2_base: Path | None) -> None:
        self.v1_bases = v1_bases
        self.v2_base = v2_base

    @classmethod
    def discover(cls, proc_self_cgroup: str | None = None, parent: str | None = None) -> Cgroups:
        """Find the hierarchies and the server's own place in each; environments' groups go
        in ``<own place>/lamina``, or in ``parent`` (a cgroup path such as
        ``/user.slice/user-1000.slice/user@1000.service/lamina``, the same in every
        hierarchy) when given: a subtree delegated to a server that is not root."""
        text = proc_self_cgroup if proc_self_cgroup is not None else _read("/proc/self/cgroup")
        own: dict[str, str] = {}
        for line in text.splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path
        if parent is not None:
            own = {c: parent for c in own}
        suffix = GROUP if parent is None else ""
        v1 = {c: ROOT / c / own[c].lstrip("/") / suffix for c in V1_CONTROLLERS if c in own}
        if len(v1) == len(V1_CONTROLLERS) and all((ROOT / c).is_dir() for c in v1):
            return cls(v1, None)
        unified = ROOT if (ROOT / "cgroup.controllers").exists() else None
        if unified is not None and "" in own:
            return cls(None, unified / own[""].lstrip("/") / suffix)
        return cls(None, None)

    @classmethod
    def none(cls) -> Cgroups:
        """No cgroups: environments get none (their limits are not enforced)."""
        return cls(None, None)

    @property
    def enabled(self) -> bool:
        return self.v1_bases is not None or self.v2_base is not None

    def problem(self) -> str | None:
        """None when environments can get cgroups here, else why not."""
        if self.v1_bases is None and self.v2_base is None:
            return "no usable cgroup hierarchy (need v1 memory, cpu, pids, freezer, or v2)"
        try:
            probe = self.create(f"probe-{os.getpid()}", Limits(128))
            probe.remove()
        except OSError as exc:
            return f"cannot create cgroups: {exc}"
        return None

    def create_later(self, name: str) -> EnvironmentCgroup:
        """The groups an environment will have; whoever starts it makes them (``make``)."""
        name = f"{os.getpid()}-{name}"
        if self.v1_bases is not None:
            return EnvironmentCgroup({c: base / name for c, base in self.v1_bases.items()}, False)
        if self.v2_base is not None:
            _enable_v2_controllers(self.v2_base)
            return EnvironmentCgroup({"unified": self.v2_base / name}, v2=True)
        return EnvironmentCgroup({}, v2=False)  # none: every operation does nothing

    def bases(self) -> list[Path]:
        """The folders environments' groups are made in."""
        if self.v1_bases is not None:
            return list(self.v1_bases.values())
        return [self.v2_base] if self.v2_base is not None else []

    def create(self, name: str, limits: Limits) -> EnvironmentCgroup:
        group = self.create_later(name)
        group.make(limits)
        return group


class EnvironmentCgroup:
    """An environment's groups; without ``paths`` (no cgroups here) it limits nothing."""

    def __init__(self, paths: dict[str, Path], v2: bool) -> None:
        self.paths = paths
        self.v2 = v2

    def _path(self, controller: str) -> Path:
        return self.paths["unified" if self.v2 else controller]

    def make(self, limits: Limits) -> None:
        if not self.paths:
            return
        for path in self.paths.values():
            path.mkdir(parents=True, exist_ok=True)
        memory = str(limits.memory_mb * 1024 * 1024)
        if self.v2:
            _write(self._path("memory") / "memory.max", memory)
            _write(self._path("memory") / "memory.swap.max", "0", optional=True)
            _write(self._path("pids") / "pids.max", str(limits.pids_max))
        else:
            _write(self._path("memory") / "memory.limit_in_bytes", memory)
            _write(self._path("memory") / "memory.memsw.limit_in_bytes", memory, optional=True)
            _write(self._path("memory") / "memory.swappiness", "0", optional=True)
            _write(self._path("pids") / "pids.max", str(limits.pids_max))

    def limit_cpu(self, limits: Limits) -> None:
        """Apply the CPU quota (after init: AWS lets the init phase burst)."""
        if not self.paths:
            return
        if self.v2:
            _write(self._path("cpu") / "cpu.max", f"{limits.cpu_quota_us} {CPU_PERIOD_US}")
        else:
            _write(self._path("cpu") / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self._path("cpu") / "cpu.cfs_quota_us", str(limits.cpu_quota_us))

    def attach(self, pid: int) -> None:
        for path in self.paths.values():
            _write(path / "cgroup.procs", str(pid))

    def oom_killed(self) -> bool:
        if not self.paths:
            return False
        name = "memory.events" if self.v2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in _read(self._path("memory") / name).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        return False

    def open_peak_memory(self) -> int:
        """A descriptor of the peak-memory file; ``peak_memory_bytes`` re-reads it cheaply."""
        if not self.paths:
            raise OSError("no memory cgroup")
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return os.open(self._path("memory") / name, os.O_RDONLY | os.O_CLOEXEC)

    @staticmethod
    def peak_memory_bytes(fd: int) -> int:
        """One pread of the file ``open_peak_memory`` opened (the invoke path calls this)."""
        try:
            return int(os.pread(fd, 32, 0))
        except (OSError, ValueError):
            return 0

    def freeze(self) -> None:
        if not self.paths:
            return
        if self.v2:
            _write(self._path("freezer") / "cgroup.freeze", "1")
        else:
            _write(self._path("freezer") / "freezer.state", "FROZEN")

    def thaw(self) -> None:
        if not self.paths:
            return
        if self.v2:
            _write(self._path("freezer") / "cgroup.freeze", "0")
        else:
            _write(self._path("freezer") / "freezer.state", "THAWED")

    def remove(self, timeout_s: float = 2.0) -> None:
        """Remove the groups once their processes are gone; retries while the kernel reaps."""
        deadline = time.monotonic() + timeout_s
        for path in self.paths.values():
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.005)


def reap_groups(bases: list[Path], owner: int | None = None) -> int:
    """Clear the groups of ``owner``, or of every server no longer running: thaw them (a frozen
    process cannot die), kill their processes, remove them. Returns how many were removed."""
    names: set[str] = set()
    for base in bases:
        with contextlib.suppress(OSError), os.scandir(base) as entries:
            names.update(entry.name for entry in entries if entry.is_dir(follow_symlinks=False))
    removed = 0
    alive: dict[str, bool] = {}
    for name in sorted(names):
        pid = name.split("-", 1)[0]
        if not pid.isdigit():
            continue
        if owner is None:
            if pid not in alive:
                alive[pid] = os.path.exists(f"/proc/{pid}")
            if alive[pid]:
                continue
        elif int(pid) != owner:
            continue
        removed += _clear([base / name for base in bases])
    return removed


def _clear(paths: list[Path]) -> int:
    for path in paths:
        for thaw in (path / "freezer.state", path / "cgroup.freeze"):
            with contextlib.suppress(OSError):
                thaw.write_text("THAWED" if thaw.name == "freezer.state" else "0")
    group = EnvironmentCgroup({str(i): path for i, path in enumerate(paths)}, v2=False)
    for _ in range(3):
        for path in paths:
            with contextlib.suppress(OSError, ValueError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
    try:
        group.remove()
    except OSError:
        return 0
    return 1


def _enable_v2_controllers(base: Path) -> None:
    base.mkdir(parents=True, exist_ok=True)
    for parent in (base.parent, base):
        with contextlib.suppress(OSError):
            _write(parent / "cgroup.subtree_control", "+memory +cpu +pids")


def _read(path: str | Path) -> str:
    with open(path) as f:
        return f.read()


def _write(path: Path, value: str, optional: bool = False) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        if optional:
            return
        raise OSError(exc.errno, f"write {value} to {path}: {exc.strerror}") from exc
