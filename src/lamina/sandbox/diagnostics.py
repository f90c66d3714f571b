"""What this host allows the namespace sandbox, checked once at start-up.

``lamina serve`` refuses to start with the namespace backend when any barrier is missing, and
says which and why, instead of running untrusted code with less isolation than it claims.
Missing cgroups are told apart: they take away limits (memory, CPU, processes, freezing), not
isolation, so the server may run without them when told to (``--cgroups optional``), and it
then says at start-up exactly which limits are not enforced. The ``egress`` network is checked
the same way: chosen explicitly, it must work; by default (``auto``) the server falls back to
``none`` and says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lamina.sandbox import linux, netlink, rtnl, seccomp, userns, userns_probe
from lamina.sandbox import nftables as nft
from lamina.sandbox.cgroups import PIDS_MAX, Cgroups
from lamina.sandbox.egress import FORWARDING
from lamina.sandbox.netlink import NetlinkSocket

_FLAGS = linux.ENVIRONMENT_NAMESPACES


@dataclass
class Diagnosis:
    problems: list[str] = field(default_factory=list)
    """Why environments cannot be isolated here: the server refuses to start."""
    cgroup_problem: str | None = None
    """Why environments cannot get cgroups here, if they cannot."""
    unenforced: list[str] = field(default_factory=list)
    """The limits that go unenforced without cgroups, each with its consequence."""
    notes: list[str] = field(default_factory=list)
    """What works, and what differs from root mode: said at start-up."""


def diagnose(cgroups: Cgroups, root_mount: Path, *, rootless: bool) -> Diagnosis:
    """Everything start-up must say about the namespace sandbox on this host.

    ``rootless``: the server is not root, so environments are built in user namespaces
    (``userns.py``); ``root_mount``: the backend's empty folder for new roots (the rootless
    probe builds a small root there, in a throw-away namespace).
    """
    diagnosis = Diagnosis()
    if rootless:
        problem = userns_probe.problem(root_mount)
        diagnosis.notes += userns_probe.notes()
    else:
        problem = _namespaces_problem()
    if problem:
        diagnosis.problems.append(problem)
    filters = seccomp.available()
    if filters:
        diagnosis.problems.append(filters)
    diagnosis.cgroup_problem = cgroups.problem()
    if diagnosis.cgroup_problem:
        counted = rootless and userns.nproc_counts_per_namespace()
        diagnosis.unenforced = unenforced_limits(process_limit=counted)
        if counted:
            diagnosis.notes.append(
                f"pids: without a cgroup, an environment still has at most {PIDS_MAX} processes, "
                "counted in its own user namespace (RLIMIT_NPROC)"
            )
    return diagnosis


def unenforced_limits(*, process_limit: bool) -> list[str]:
    """What an environment without cgroups is not held to; ``process_limit``: its processes
    are still counted (``RLIMIT_NPROC`` per user namespace, rootless mode)."""
    limits = [
        "memory: MemorySize is not a limit; a function can take the host's memory (and its "
        "/tmp, a tmpfs, up to EphemeralStorage) until the kernel's OOM killer ends some "
        "process, and no invocation ends as Runtime.OutOfMemory (Max Memory Used is the "
        "runtime's peak resident size instead)",
        "CPU: no share proportional to MemorySize; a function can use every CPU",
        "freezer: idle environments are not frozen; their background threads keep running",
    ]
    if not process_limit:
        limits.insert(2, "pids: no limit on a function's processes; a fork bomb reaches the host")
    return limits


def _namespaces_problem() -> str | None:
    """Try, in a throw-away child, to create the namespaces an environment gets."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            linux.unshare(_FLAGS)
        except OSError as exc:
            os.write(write_end, str(exc).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        message = reader.read().decode(errors="replace")
    os.waitpid(pid, 0)
    return f"cannot create namespaces: {message}" if message else None


def egress_problem() -> str | None:
    """Why environments cannot have the ``egress`` network here (None: they can): it needs
    IPv4 forwarding, veth pairs and nf_tables with NAT, tried in a throw-away namespace."""
    if not FORWARDING.exists():
        return "the kernel has no IPv4 forwarding (/proc/sys/net/ipv4/ip_forward)"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            _try_egress()
        except Exception as exc:
            os.write(write_end, str(exc).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        message = reader.read().decode(errors="replace")
    os.waitpid(pid, 0)
    return message or None


def _try_egress() -> None:
    linux.unshare(linux.CLONE_NEWNET)
    with NetlinkSocket(netlink.NETLINK_ROUTE) as sock:
        netns = os.open("/proc/self/ns/net", os.O_RDONLY)
        rtnl.create_veth(sock, "probe0", "probe1", netns)
    with NetlinkSocket(netlink.NETLINK_NETFILTER) as sock:
        batch = nft.Batch(sock)
        batch.add_table("probe", owned=True)
        batch.add_chain("probe", "nat", hook=nft.HOOK_POSTROUTING, priority=100, kind="nat")
        batch.add_rule("probe", "nat", [*nft.oifname("probe"), nft.masquerade()])
        batch.commit("nf_tables with masquerading")
