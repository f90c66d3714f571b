"""The resolver configuration of environments on the ``egress`` network.

An environment's ``/etc/resolv.conf`` is written for it: the host's IPv4 nameservers (with its
``search`` and ``options``), since environments have no IPv6. A resolver on the host's loopback
(systemd-resolved's ``127.0.0.53``) is out of an environment's reach, as all of the host is:
then systemd-resolved's upstream servers are used if it lists some, else environments have no
resolver; either way ``Resolvers.note`` says so, for the start-up log.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Resolvers:
    """What an environment's ``/etc/resolv.conf`` says, and why, if it lost something."""

    content: str
    note: str | None = None


def read_resolvers(
    path: Path = Path("/etc/resolv.conf"), upstream: Path = Path("/run/systemd/resolve/resolv.conf")
) -> Resolvers:
    """The resolvers environments use: the host's, unless they are on its loopback (which
    environments cannot reach), then systemd-resolved's upstream servers if it has some."""
    try:
        text = path.read_text()
    except OSError:
        return Resolvers("", f"{path} is unreadable: environments have no DNS resolver")
    usable = [a for a in nameservers(text) if not _loopback(a)]
    if usable or not nameservers(text, every=True):
        return Resolvers(_resolv_conf(text, usable))
    with contextlib.suppress(OSError):
        upstream_text = upstream.read_text()
        servers = [a for a in nameservers(upstream_text) if not _loopback(a)]
        if servers:
            note = f"the host's resolver is on its loopback; environments use {', '.join(servers)}"
            return Resolvers(_resolv_conf(upstream_text, servers), note)
    note = (f"the host resolves names through a resolver on its loopback ({path}), which "
            "environments cannot reach: they have no DNS resolver")  # fmt: skip
    return Resolvers(_resolv_conf(text, []), note)


def _loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def nameservers(text: str, *, every: bool = False) -> list[str]:
    """The IPv4 nameservers of a resolv.conf (all of them, IPv6 too, with ``every``)."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                address = ipaddress.ip_address(parts[1])
            except ValueError:
                continue
            if every or address.version == 4:
                found.append(str(address))
    return found


def _resolv_conf(text: str, servers: list[str]) -> str:
    """``text`` with only ``servers`` as nameservers (search and options kept)."""
    kept = [line for line in text.splitlines() if line.split()[:1] in (["search"], ["options"])]
    return "".join(f"nameserver {s}\n" for s in servers) + "".join(f"{k}\n" for k in kept)
