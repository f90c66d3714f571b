"""What this host allows the namespace sandbox, checked once at start-up.

``lamina serve`` refuses to start with the namespace backend when any barrier is missing, and
says which and why, instead of running untrusted code with less isolation than it claims. The
``egress`` network is checked the same way: chosen explicitly, it must work; by default
(``auto``) the server falls back to ``none`` and says why.
"""

from __future__ import annotations

import os

from lamina.sandbox import linux, netlink, rtnl, seccomp
from lamina.sandbox import nftables as nft
from lamina.sandbox.cgroups import Cgroups
from lamina.sandbox.egress import FORWARDING
from lamina.sandbox.netlink import NetlinkSocket

_FLAGS = (
    linux.CLONE_NEWNS
    | linux.CLONE_NEWUTS
    | linux.CLONE_NEWIPC
    | linux.CLONE_NEWPID
    | linux.CLONE_NEWNET
    | linux.CLONE_NEWCGROUP
)


def namespace_problems(cgroups: Cgroups) -> list[str]:
    """Every reason the namespace sandbox cannot run here; empty when it can."""
    if os.geteuid() != 0:
        return [
            f"it needs root for now (lamina runs as uid {os.geteuid()}); the unprivileged "
            "mode with user namespaces is not implemented yet"
        ]
    problems = []
    namespaces = _namespaces_problem()
    if namespaces:
        problems.append(namespaces)
    cgroup = cgroups.problem()
    if cgroup:
        problems.append(cgroup)
    filters = seccomp.available()
    if filters:
        problems.append(filters)
    return problems


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
