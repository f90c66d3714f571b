"""nf_tables over netlink: tables, base chains and rules built from expressions, in batches.

The host has the kernel's nf_tables but need not have the ``nft`` program, so the egress
network's filter and NAT rules are written here as nfnetlink messages: one batch (begin,
messages, end) is applied atomically, or not at all. Integers in nf_tables attributes are
big-endian; register contents (interface names, addresses, conntrack state) are compared as
raw bytes, the way ``nft`` itself compiles its rules.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterator

from lamina.sandbox import netlink
from lamina.sandbox.netlink import NetlinkSocket

NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN = 0x10
NFNL_MSG_BATCH_END = 0x11
NFT_MSG_NEWTABLE = 0
NFT_MSG_GETTABLE = 1
NFT_MSG_DELTABLE = 2
NFT_MSG_NEWCHAIN = 3
NFT_MSG_NEWRULE = 6

NFPROTO_INET = 1
NFPROTO_IPV4 = 2
NFPROTO_IPV6 = 10

NFTA_TABLE_NAME = 1
NFTA_TABLE_FLAGS = 2
NFT_TABLE_F_OWNER = 0x2
"""The table belongs to the netlink socket that made it: the kernel removes it when that
socket closes (the server exits or crashes), and no one else may change it."""
NFTA_CHAIN_TABLE = 1
NFTA_CHAIN_NAME = 3
NFTA_CHAIN_HOOK = 4
NFTA_CHAIN_POLICY = 5
NFTA_CHAIN_TYPE = 7
NFTA_HOOK_HOOKNUM = 1
NFTA_HOOK_PRIORITY = 2
NFTA_RULE_TABLE = 1
NFTA_RULE_CHAIN = 2
NFTA_RULE_EXPRESSIONS = 4
NFTA_LIST_ELEM = 1
NFTA_EXPR_NAME = 1
NFTA_EXPR_DATA = 2
NFTA_DATA_VALUE = 1
NFTA_DATA_VERDICT = 2
NFTA_VERDICT_CODE = 1

HOOK_INPUT = 1
HOOK_FORWARD = 2
HOOK_POSTROUTING = 4
NF_DROP = 0
NF_ACCEPT = 1

META_IIFNAME = 6
META_OIFNAME = 7
META_NFPROTO = 15
CT_STATE = 0
CT_STATE_ESTABLISHED = 1 << 1
CT_STATE_RELATED = 1 << 2

CMP_EQ = 0
CMP_NEQ = 1
PAYLOAD_NETWORK = 1
IPV4_SADDR = 12
IPV4_DADDR = 16
REG_1 = 1
REG_VERDICT = 0

_NFGEN = struct.Struct("=BBH")


def _kind(message: int) -> int:
    return (NFNL_SUBSYS_NFTABLES << 8) | message


def _expr(name: str, *data: bytes) -> bytes:
    members = [netlink.string(NFTA_EXPR_NAME, name)]
    if data:
        members.append(netlink.nested(NFTA_EXPR_DATA, *data))
    return netlink.nested(NFTA_LIST_ELEM, *members)


def _value(kind: int, raw: bytes) -> bytes:
    return netlink.nested(kind, netlink.attr(NFTA_DATA_VALUE, raw))


def meta(key: int) -> bytes:
    return _expr("meta", netlink.be32(2, key), netlink.be32(1, REG_1))


def cmp(op: int, raw: bytes) -> bytes:
    return _expr("cmp", netlink.be32(1, REG_1), netlink.be32(2, op), _value(3, raw))


def payload(offset: int, length: int) -> bytes:
    return _expr("payload", netlink.be32(1, REG_1), netlink.be32(2, PAYLOAD_NETWORK),
                 netlink.be32(3, offset), netlink.be32(4, length))  # fmt: skip


def bitwise(mask: bytes) -> bytes:
    """REG_1 = REG_1 & mask (the xor is zero)."""
    zero = b"\0" * len(mask)
    return _expr("bitwise", netlink.be32(1, REG_1), netlink.be32(2, REG_1),
                 netlink.be32(3, len(mask)), _value(4, mask), _value(5, zero))  # fmt: skip


def ct_state() -> bytes:
    return _expr("ct", netlink.be32(1, REG_1), netlink.be32(2, CT_STATE))


def verdict(code: int) -> bytes:
    data = netlink.nested(NFTA_DATA_VERDICT, netlink.be32(NFTA_VERDICT_CODE, code))
    return _expr("immediate", netlink.be32(1, REG_VERDICT), netlink.nested(2, data))


def masquerade() -> bytes:
    return _expr("masq")


# Matches: each a list of expressions that leaves the rule only when it does not match.


def iifname(prefix: str, *, equal: bool = True) -> list[bytes]:
    """The input interface's name starts with ``prefix`` (or does not)."""
    return [meta(META_IIFNAME), cmp(CMP_EQ if equal else CMP_NEQ, prefix.encode())]


def oifname(prefix: str, *, equal: bool = True) -> list[bytes]:
    return [meta(META_OIFNAME), cmp(CMP_EQ if equal else CMP_NEQ, prefix.encode())]


def nfproto(family: int, *, equal: bool = True) -> list[bytes]:
    return [meta(META_NFPROTO), cmp(CMP_EQ if equal else CMP_NEQ, bytes([family]))]


def ipv4(offset: int, network: ipaddress.IPv4Network, *, equal: bool = True) -> list[bytes]:
    """An IPv4 packet whose source (IPV4_SADDR) or destination (IPV4_DADDR) is in ``network``."""
    return [
        *nfproto(NFPROTO_IPV4),
        payload(offset, 4),
        bitwise(network.netmask.packed),
        cmp(CMP_EQ if equal else CMP_NEQ, network.network_address.packed),
    ]


def established() -> list[bytes]:
    """The packet belongs to a connection already accepted, or is related to one (ICMP)."""
    mask = struct.pack("=I", CT_STATE_ESTABLISHED | CT_STATE_RELATED)
    return [ct_state(), bitwise(mask), cmp(CMP_NEQ, b"\0\0\0\0")]


class Batch:
    """Messages applied together by ``commit``: all of them, or none."""

    def __init__(self, sock: NetlinkSocket, family: int = NFPROTO_INET) -> None:
        self.sock = sock
        self.family = family
        self._messages: list[bytes] = []
        self._seqs: set[int] = set()

    def _add(self, message: int, flags: int, attrs: bytes) -> None:
        seq = self.sock.next_seq()
        self._seqs.add(seq)
        body = _NFGEN.pack(self.family, 0, 0) + attrs
        flags |= netlink.NLM_F_REQUEST | netlink.NLM_F_ACK
        self._messages.append(self.sock.pack(_kind(message), flags, body, seq))

    def add_table(self, name: str, *, owned: bool = False) -> None:
        attrs = netlink.string(NFTA_TABLE_NAME, name)
        if owned:
            attrs += netlink.be32(NFTA_TABLE_FLAGS, NFT_TABLE_F_OWNER)
        self._add(NFT_MSG_NEWTABLE, netlink.NLM_F_CREATE | netlink.NLM_F_EXCL, attrs)

    def delete_table(self, name: str) -> None:
        self._add(NFT_MSG_DELTABLE, 0, netlink.string(NFTA_TABLE_NAME, name))

    def add_chain(self, table: str, name: str, *, hook: int, priority: int, kind: str) -> None:
        attrs = netlink.string(NFTA_CHAIN_TABLE, table) + netlink.string(NFTA_CHAIN_NAME, name)
        attrs += netlink.nested(NFTA_CHAIN_HOOK, netlink.be32(NFTA_HOOK_HOOKNUM, hook),
                                netlink.be32(NFTA_HOOK_PRIORITY, priority))  # fmt: skip
        attrs += netlink.be32(NFTA_CHAIN_POLICY, NF_ACCEPT) + netlink.string(NFTA_CHAIN_TYPE, kind)
        self._add(NFT_MSG_NEWCHAIN, netlink.NLM_F_CREATE, attrs)

    def add_rule(self, table: str, chain: str, expressions: list[bytes]) -> None:
        attrs = netlink.string(NFTA_RULE_TABLE, table) + netlink.string(NFTA_RULE_CHAIN, chain)
        attrs += netlink.nested(NFTA_RULE_EXPRESSIONS, *expressions)
        self._add(NFT_MSG_NEWRULE, netlink.NLM_F_CREATE | netlink.NLM_F_APPEND, attrs)

    def commit(self, what: str) -> None:
        subsystem = socket.htons(NFNL_SUBSYS_NFTABLES)
        begin = self.sock.pack(NFNL_MSG_BATCH_BEGIN, netlink.NLM_F_REQUEST,
                               _NFGEN.pack(socket.AF_UNSPEC, 0, subsystem))  # fmt: skip
        end = self.sock.pack(NFNL_MSG_BATCH_END, netlink.NLM_F_REQUEST,
                             _NFGEN.pack(socket.AF_UNSPEC, 0, subsystem))  # fmt: skip
        data = begin + b"".join(self._messages) + end
        seqs, self._messages, self._seqs = self._seqs, [], set()
        self.sock.send_batch(data, seqs, what)


def tables(sock: NetlinkSocket) -> Iterator[tuple[int, str]]:
    """(family, name) of every nf_tables table."""
    for message in sock.dump(_kind(NFT_MSG_GETTABLE), _NFGEN.pack(socket.AF_UNSPEC, 0, 0)):
        family = message.body[0]
        attrs = netlink.parse_attrs(message.body[_NFGEN.size :])
        yield family, attrs.get(NFTA_TABLE_NAME, b"").rstrip(b"\0").decode()
