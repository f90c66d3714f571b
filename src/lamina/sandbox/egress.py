"""The host's side of the ``egress`` network: a subnet, forwarding, NAT and filter rules.

Each environment of the egress network has a network namespace of its own, joined to the
host by a veth pair (``netns_pool.py``): the host's end ``lmn<server pid>x<n>`` holds
``10.X.Y.(4n+1)/30`` and the environment's end (``eth0``) ``…(4n+2)/30`` with a default route
through the host. The environments' addresses come from one private /16 per server, the first of
``10.200.0.0/16`` … ``10.254.0.0/16`` that overlaps no route of the host (and none of its
resolvers), claimed with an ``unreachable`` route whose metric is the server's pid (so a
concurrent server picks another, and the next start removes a crashed server's claim).

One nf_tables table per server (``inet lamina_<pid>``, owned by the server's netlink socket:
the kernel deletes it when the server exits, crash included) does the rest:

- ``input``: nothing from an environment reaches the host itself: no loopback service, no
  address of the host, whatever it listens on (``iifname "lmn*" drop``);
- ``forward``: an environment may not send from another address, reach another environment
  (of any server), use IPv6, or reach link-local addresses (the cloud metadata service at
  169.254.169.254); from outside, only answers to an environment's own connections come in;
  if lamina had to turn IPv4 forwarding on, the host forwards nothing but environments'
  traffic;
- ``postrouting``: the environments' traffic leaving through any other interface is
  masqueraded to the host's address on that interface.

The Runtime API relay listens on the environment's own loopback, which no one else can reach.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lamina.sandbox import netlink, nftables, rtnl
from lamina.sandbox import nftables as nft
from lamina.sandbox.netlink import NetlinkSocket
from lamina.sandbox.resolvers import Resolvers, nameservers, read_resolvers

log = logging.getLogger(__name__)

VETH_PREFIX = "lmn"
TABLE_PREFIX = "lamina_"
ROUTE_PROTOCOL = 77
"""Marks the routes lamina adds (``proto 77`` in ``ip route``)."""
CANDIDATES = tuple(ipaddress.IPv4Network(f"10.{n}.0.0/16") for n in range(200, 255))
METADATA = ipaddress.IPv4Network("169.254.0.0/16")
FORWARDING = Path("/proc/sys/net/ipv4/ip_forward")
FORWARDING_MARK = Path("/run/lamina/forwarding-enabled")
"""Left by the lamina that turned forwarding on, so later servers keep the host from routing
anything but environments' traffic too (cleared with /run at reboot)."""


@dataclass(frozen=True)
class EgressNetwork:
    """What one server's environments share: their subnet, names and resolvers."""

    subnet: ipaddress.IPv4Network
    owner: int
    resolvers: Resolvers

    @property
    def veth_prefix(self) -> str:
        return f"{VETH_PREFIX}{self.owner:x}x"

    @property
    def slots(self) -> int:
        """How many /30 links the subnet holds (the first is left out)."""
        return self.subnet.num_addresses // 4 - 1

    def link(self, slot: int) -> tuple[str, str, str]:
        """(host veth name, host address, environment address) of link ``slot`` (1-based)."""
        base = self.subnet.network_address + 4 * slot
        return f"{self.veth_prefix}{slot:x}", str(base + 1), str(base + 2)


class EgressHost:
    """Sets the host up for one server's egress network; ``close`` takes it all down."""

    def __init__(self, subnet: str | None = None) -> None:
        self._rtnl = NetlinkSocket(netlink.NETLINK_ROUTE)
        self._nft = NetlinkSocket(netlink.NETLINK_NETFILTER)  # owns the table: keep it open
        self.owner = os.getpid()
        self.table = f"{TABLE_PREFIX}{self.owner}"
        self._claim: rtnl.Route | None = None
        try:
            sweep(self._rtnl, self._nft)
            resolvers = read_resolvers()
            self.network = EgressNetwork(self._claim_subnet(subnet, resolvers), self.owner,
                                         resolvers)  # fmt: skip
            forward_only_environments = _enable_forwarding()
            self._install_rules(forward_only_environments)
        except BaseException:
            self.close()
            raise

    def _claim_subnet(self, wanted: str | None, resolvers: Resolvers) -> ipaddress.IPv4Network:
        taken = [r.destination for r in rtnl.routes(self._rtnl) if r.destination.prefixlen]
        taken += [ipaddress.IPv4Network(a) for a in nameservers(resolvers.content)]
        if wanted is not None:
            candidates: Iterable[ipaddress.IPv4Network] = [ipaddress.IPv4Network(wanted)]
        else:
            candidates = CANDIDATES
        for candidate in candidates:
            if any(candidate.overlaps(route) for route in taken):
                continue
            claim = rtnl.Route(candidate, unreachable=True, priority=self.owner,
                               protocol=ROUTE_PROTOCOL)  # fmt: skip
            try:
                rtnl.add_route(self._rtnl, claim)
            except FileExistsError:
                continue  # another server claimed it a moment ago
            self._claim = claim
            return candidate
        if wanted is not None:
            raise OSError(f"egress subnet {wanted} overlaps a route of the host")
        raise OSError("no free private /16 for environments' addresses (10.200-254.0.0/16)")

    def _install_rules(self, forward_only_environments: bool) -> None:
        own = self.network.veth_prefix
        batch = nft.Batch(self._nft)
        batch.add_table(self.table, owned=True)
        for chain, hook, priority, kind in (
            ("input", nft.HOOK_INPUT, 0, "filter"),
            ("forward", nft.HOOK_FORWARD, 0, "filter"),
            ("postrouting", nft.HOOK_POSTROUTING, 100, "nat"),
        ):
            batch.add_chain(self.table, chain, hook=hook, priority=priority, kind=kind)
        drop, accept = nft.verdict(nft.NF_DROP), nft.verdict(nft.NF_ACCEPT)
        from_env, to_env = nft.iifname(VETH_PREFIX), nft.oifname(VETH_PREFIX)
        subnet = self.network.subnet
        batch.add_rule(self.table, "input", [*from_env, drop])
        forward = [
            [*nft.iifname(own), *nft.nfproto(nft.NFPROTO_IPV4, equal=False), drop],
            [*nft.iifname(own), *nft.ipv4(nft.IPV4_SADDR, subnet, equal=False), drop],
            [*from_env, *to_env, drop],
            [*from_env, *nft.ipv4(nft.IPV4_DADDR, METADATA), drop],
            [*to_env, *nft.established(), accept],
            [*to_env, drop],
        ]
        if forward_only_environments:
            forward.append([*nft.iifname(VETH_PREFIX, equal=False),
                            *nft.oifname(VETH_PREFIX, equal=False), drop])  # fmt: skip
        for rule in forward:
            batch.add_rule(self.table, "forward", rule)
        batch.add_rule(self.table, "postrouting", [*nft.ipv4(nft.IPV4_SADDR, subnet),
                       *nft.oifname(VETH_PREFIX, equal=False), nft.masquerade()])  # fmt: skip
        batch.commit(f"create nf_tables table inet {self.table}")

    def close(self) -> None:
        """Remove the subnet's claim and the table (links go with their namespaces)."""
        if self._claim is not None:
            with contextlib.suppress(OSError):
                rtnl.delete_route(self._rtnl, self._claim)
            self._claim = None
        self._nft.close()  # the kernel deletes the table it owns
        self._rtnl.close()


def sweep(route_sock: NetlinkSocket, nft_sock: NetlinkSocket) -> None:
    """Remove what servers that are gone left behind: veths, subnet claims, tables."""
    for _index, name in list(rtnl.links(route_sock)):
        if name.startswith(VETH_PREFIX) and _gone(name[len(VETH_PREFIX) :].split("x")[0], 16):
            with contextlib.suppress(OSError):
                rtnl.delete_link(route_sock, name)
    for route in list(rtnl.routes(route_sock)):
        ours = route.protocol == ROUTE_PROTOCOL and route.unreachable and route.priority
        if ours and _gone(str(route.priority), 10):
            with contextlib.suppress(OSError):
                rtnl.delete_route(route_sock, route)
    stale = [n for _f, n in nftables.tables(nft_sock)
             if n.startswith(TABLE_PREFIX) and _gone(n[len(TABLE_PREFIX) :], 10)]  # fmt: skip
    for name in stale:
        batch = nft.Batch(nft_sock)
        batch.delete_table(name)
        with contextlib.suppress(OSError):
            batch.commit(f"delete table {name}")


def _gone(pid_text: str, base: int) -> bool:
    """Whether the server of this pid is gone (a name that is not ours is left alone)."""
    try:
        pid = int(pid_text, base)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _enable_forwarding() -> bool:
    """Turn IPv4 forwarding on if it is off; whether lamina turned it on (now or before)."""
    if FORWARDING.read_text().strip() == "0":
        FORWARDING.write_text("1")
        log.warning("network 'egress': turned IPv4 forwarding on (net.ipv4.ip_forward=1); "
                    "lamina's rules forward only environments' traffic")  # fmt: skip
        with contextlib.suppress(OSError):
            FORWARDING_MARK.parent.mkdir(parents=True, exist_ok=True)
            FORWARDING_MARK.touch()
        return True
    return FORWARDING_MARK.exists()
