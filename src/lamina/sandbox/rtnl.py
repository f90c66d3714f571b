"""Links, addresses and routes over rtnetlink: the few requests the egress network makes.

Each function takes a ``NetlinkSocket`` of ``NETLINK_ROUTE``, which acts in the network
namespace it was opened in; so the same calls configure the host's side (a socket opened by
the server) and an environment's side (one opened inside the environment's namespace).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from lamina.sandbox import netlink
from lamina.sandbox.netlink import NetlinkSocket

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_GETROUTE = 26

IFLA_IFNAME = 3
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RTN_UNREACHABLE = 7
RT_SCOPE_UNIVERSE = 0

_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


def create_veth(
    sock: NetlinkSocket, name: str, peer: str, peer_netns_fd: int, peer_index: int = 0
) -> None:
    """A veth pair: ``name`` here (up), ``peer`` (down) in the namespace of ``peer_netns_fd``
    (a peer cannot be brought up before the pair exists); ``peer_index``: the peer's
    interface index there, if the caller picks it (0: the kernel does)."""
    peer_info = _ifinfo(peer_index) + netlink.string(IFLA_IFNAME, peer)
    peer_info += netlink.u32(IFLA_NET_NS_FD, peer_netns_fd)
    linkinfo = netlink.nested(
        IFLA_LINKINFO,
        netlink.string(IFLA_INFO_KIND, "veth"),
        netlink.nested(IFLA_INFO_DATA, netlink.attr(VETH_INFO_PEER, peer_info)),
    )
    body = _ifinfo(flags=IFF_UP, change=IFF_UP) + netlink.string(IFLA_IFNAME, name) + linkinfo
    flags = netlink.NLM_F_CREATE | netlink.NLM_F_EXCL
    sock.request(RTM_NEWLINK, flags, body, f"create veth {name}")


def set_up(sock: NetlinkSocket, index: int, what: str) -> None:
    sock.request(RTM_NEWLINK, 0, _ifinfo(index, IFF_UP, IFF_UP), f"bring {what} up")


def delete_link(sock: NetlinkSocket, name: str) -> None:
    body = _ifinfo() + netlink.string(IFLA_IFNAME, name)
    sock.request(RTM_DELLINK, 0, body, f"delete link {name}")


def add_address(sock: NetlinkSocket, index: int, address: str, prefix: int) -> None:
    packed = ipaddress.IPv4Address(address).packed
    body = _IFADDR.pack(socket.AF_INET, prefix, 0, RT_SCOPE_UNIVERSE, index)
    body += netlink.attr(IFA_LOCAL, packed) + netlink.attr(IFA_ADDRESS, packed)
    flags = netlink.NLM_F_CREATE | netlink.NLM_F_EXCL
    sock.request(RTM_NEWADDR, flags, body, f"add address {address}/{prefix}")


@dataclass(frozen=True)
class Route:
    destination: ipaddress.IPv4Network
    gateway: str | None = None
    unreachable: bool = False
    priority: int | None = None
    protocol: int = 4  # RTPROT_STATIC


def _route_body(route: Route) -> bytes:
    kind = RTN_UNREACHABLE if route.unreachable else RTN_UNICAST
    body = _RTMSG.pack(socket.AF_INET, route.destination.prefixlen, 0, 0, RT_TABLE_MAIN,
                       route.protocol, RT_SCOPE_UNIVERSE, kind, 0)  # fmt: skip
    if route.destination.prefixlen:
        body += netlink.attr(RTA_DST, route.destination.network_address.packed)
    if route.gateway is not None:
        body += netlink.attr(RTA_GATEWAY, ipaddress.IPv4Address(route.gateway).packed)
    if route.priority is not None:
        body += netlink.u32(RTA_PRIORITY, route.priority)
    return body


def add_route(sock: NetlinkSocket, route: Route) -> None:
    """Add ``route`` to the main table; an identical route already there is EEXIST."""
    flags = netlink.NLM_F_CREATE | netlink.NLM_F_EXCL
    sock.request(RTM_NEWROUTE, flags, _route_body(route), f"add route {route.destination}")


def delete_route(sock: NetlinkSocket, route: Route) -> None:
    sock.request(RTM_DELROUTE, 0, _route_body(route), f"delete route {route.destination}")


def links(sock: NetlinkSocket) -> Iterator[tuple[int, str]]:
    """(index, name) of every link of the socket's namespace."""
    for message in sock.dump(RTM_GETLINK, _ifinfo()):
        index = _IFINFO.unpack_from(message.body)[2]
        name = netlink.parse_attrs(message.body[_IFINFO.size :]).get(IFLA_IFNAME, b"")
        yield index, name.rstrip(b"\0").decode()


def routes(sock: NetlinkSocket) -> Iterator[Route]:
    """The IPv4 routes of the main table (gateway and priority as far as they are set)."""
    header = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
    for message in sock.dump(RTM_GETROUTE, header):
        family, dst_len, _s, _t, table, protocol, _sc, kind, _f = _RTMSG.unpack_from(message.body)
        if family != socket.AF_INET or table != RT_TABLE_MAIN:
            continue
        attrs = netlink.parse_attrs(message.body[_RTMSG.size :])
        network = ipaddress.IPv4Address(attrs.get(RTA_DST, b"\0\0\0\0"))
        gateway = attrs.get(RTA_GATEWAY)
        priority = attrs.get(RTA_PRIORITY)
        yield Route(
            ipaddress.IPv4Network(f"{network}/{dst_len}", strict=False),
            str(ipaddress.IPv4Address(gateway)) if gateway else None,
            kind == RTN_UNREACHABLE,
            struct.unpack("=I", priority)[0] if priority else None,
            protocol,
        )
