"""Who used the cores during a load window: CPU time read from /proc at its two ends.

A snapshot holds the CPU seconds (user + system) of the server process, of its children (the
function environments, live or reaped), of this harness's other children (the load generators)
and of the whole machine, busy and stolen by the hypervisor.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat from the state (field 3) on; None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # the name in field 2 may hold spaces


def _own_s(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime + stime


def _reaped_s(fields: list[str]) -> float:
    return (int(fields[13]) + int(fields[14])) * _TICK_S  # cutime + cstime


def _processes() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                found[int(entry.name)] = fields
    return found


def _machine_s() -> tuple[float, float]:
    """Busy and stolen CPU seconds of the whole machine since boot, all cores together."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) * _TICK_S, steal * _TICK_S


@dataclass(frozen=True)
class Snapshot:
    at: float
    server_s: float
    environments_s: float
    clients_s: float
    machine_busy_s: float
    machine_steal_s: float
    environments: int


def snapshot(server_pid: int) -> Snapshot:
    processes = _processes()
    me = os.getpid()
    server = processes.get(server_pid)
    environments = [f for f in processes.values() if int(f[1]) == server_pid]
    clients = [f for pid, f in processes.items() if int(f[1]) == me and pid != server_pid]
    busy, steal = _machine_s()
    return Snapshot(
        at=time.monotonic(),
        server_s=_own_s(server) if server else 0.0,
        environments_s=sum(_own_s(f) for f in environments) + (_reaped_s(server) if server else 0),
        clients_s=sum(_own_s(f) for f in clients),
        machine_busy_s=busy,
        machine_steal_s=steal,
        environments=len(environments),
    )


@dataclass(frozen=True)
class Usage:
    """CPU used over a window, in cores (1.0 = one core busy the whole window)."""

    server: float
    environments: float
    clients: float
    machine_busy: float
    machine_steal: float
    environments_at_end: int

    @classmethod
    def between(cls, first: Snapshot, last: Snapshot) -> Usage:
        wall = last.at - first.at or 1.0
        return cls(
            server=(last.server_s - first.server_s) / wall,
            environments=(last.environments_s - first.environments_s) / wall,
            clients=(last.clients_s - first.clients_s) / wall,
            machine_busy=(last.machine_busy_s - first.machine_busy_s) / wall,
            machine_steal=(last.machine_steal_s - first.machine_steal_s) / wall,
            environments_at_end=last.environments,
        )


class WindowSampler:
    """Takes a snapshot at ``begin`` and at ``end`` (time.monotonic values) in a thread."""

    def __init__(self, server_pid: int, begin: float, end: float) -> None:
        self.server_pid = server_pid
        self.begin = begin
        self.end = end
        self.usage: Usage | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        time.sleep(max(0.0, self.begin - time.monotonic()))
        first = snapshot(self.server_pid)
        time.sleep(max(0.0, self.end - time.monotonic()))
        self.usage = Usage.between(first, snapshot(self.server_pid))

    def result(self) -> Usage | None:
        self._thread.join()
        return self.usage
