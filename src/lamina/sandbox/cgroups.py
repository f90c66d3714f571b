"""One cgroup per execution environment, on cgroup v1 hierarchies or on cgroup v2 alike.

Each environment gets a memory limit (its MemorySize; tmpfs pages of its /tmp are charged here
too), a CPU quota proportional to memory as on AWS (1,769 MB = one vCPU), a process limit, and a
freezer. Groups are created under the server's own cgroup of each hierarchy, so limits the host
puts on lamina still apply, and removed when the environment ends.

Layout: ``<server's cgroup>/lamina/<environment id>`` in each v1 controller used (memory, cpu,
pids, freezer), or in the v2 unified hierarchy.
"""

from __future__ import annotations

import contextlib
import os
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
    def discover(cls, proc_self_cgroup: str | None = None) -> Cgroups:
        """Find the hierarchies and the server's own place in each."""
        text = proc_self_cgroup if proc_self_cgroup is not None else _read("/proc/self/cgroup")
        own: dict[str, str] = {}
        for line in text.splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path
        v1 = {c: ROOT / c / own[c].lstrip("/") / GROUP for c in V1_CONTROLLERS if c in own}
        if len(v1) == len(V1_CONTROLLERS) and all((ROOT / c).is_dir() for c in v1):
            return cls(v1, None)
        unified = ROOT if (ROOT / "cgroup.controllers").exists() else None
        if unified is not None and "" in own:
            return cls(None, unified / own[""].lstrip("/") / GROUP)
        return cls(None, None)

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
        if self.v1_bases is not None:
            return EnvironmentCgroup({c: base / name for c, base in self.v1_bases.items()}, False)
        if self.v2_base is not None:
            _enable_v2_controllers(self.v2_base)
            return EnvironmentCgroup({"unified": self.v2_base / name}, v2=True)
        raise OSError("no cgroup hierarchy")

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
    def __init__(self, paths: dict[str, Path], v2: bool) -> None:
        self.paths = paths
        self.v2 = v2

    def _path(self, controller: str) -> Path:
        return self.paths["unified" if self.v2 else controller]

    def make(self, limits: Limits) -> None:
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
        if self.v2:
            _write(self._path("cpu") / "cpu.max", f"{limits.cpu_quota_us} {CPU_PERIOD_US}")
        else:
            _write(self._path("cpu") / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self._path("cpu") / "cpu.cfs_quota_us", str(limits.cpu_quota_us))

    def attach(self, pid: int) -> None:
        for path in self.paths.values():
            _write(path / "cgroup.procs", str(pid))

    def oom_killed(self) -> bool:
        name = "memory.events" if self.v2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in _read(self._path("memory") / name).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        return False

    def open_peak_memory(self) -> int:
        """A descriptor of the peak-memory file; ``peak_memory_bytes`` re-reads it cheaply."""
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
        if self.v2:
            _write(self._path("freezer") / "cgroup.freeze", "1")
        else:
            _write(self._path("freezer") / "freezer.state", "FROZEN")

    def thaw(self) -> None:
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
