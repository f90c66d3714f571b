"""A minimal netlink client: messages, attributes, acknowledgements and dumps.

The egress network (``egress.py``) programs links, addresses and routes (rtnetlink,
``rtnl.py``) and nf_tables (nfnetlink, ``nftables.py``) straight from Python: the machines
lamina runs on need not have ``iproute2`` or ``nft`` installed, and a netlink message costs
microseconds where running a program costs milliseconds. Only what those two modules use is
here; every failure is an OSError naming the request.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

NETLINK_ROUTE = 0
NETLINK_NETFILTER = 12

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800

NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLA_F_NESTED = 0x8000

_HEADER = struct.Struct("=IHHII")
_ATTR = struct.Struct("=HH")


def _align(size: int) -> int:
    return (size + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to four bytes."""
    size = _ATTR.size + len(payload)
    return _ATTR.pack(size, kind) + payload + b"\0" * (_align(size) - size)


def nested(kind: int, *members: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(members))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def be32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack(">i" if value < 0 else ">I", value))


def u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """The attributes of a message body, by type (nesting flag removed; last one wins)."""
    found = {}
    offset = 0
    while offset + _ATTR.size <= len(data):
        size, kind = _ATTR.unpack_from(data, offset)
        if size < _ATTR.size:
            break
        found[kind & ~NLA_F_NESTED] = data[offset + _ATTR.size : offset + size]
        offset += _align(size)
    return found


@dataclass(frozen=True)
class Message:
    kind: int
    flags: int
    body: bytes


class NetlinkSocket:
    """One netlink socket; requests are numbered, and each is answered before the next."""

    def __init__(self, protocol: int) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                   protocol)  # fmt: skip
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NetlinkSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def pack(self, kind: int, flags: int, body: bytes, seq: int | None = None) -> bytes:
        seq = self.next_seq() if seq is None else seq
        return _HEADER.pack(_HEADER.size + len(body), kind, flags, seq, 0) + body

    def request(self, kind: int, flags: int, body: bytes, what: str) -> None:
        """Send one request and wait for its acknowledgement."""
        self._sock.send(self.pack(kind, flags | NLM_F_REQUEST | NLM_F_ACK, body))
        self.wait_acks({self._seq}, what)

    def send_batch(self, data: bytes, seqs: set[int], what: str) -> None:
        """Send messages already packed (with NLM_F_ACK) and wait for all their answers."""
        self._sock.send(data)
        self.wait_acks(seqs, what)

    def wait_acks(self, seqs: set[int], what: str) -> None:
        """Read answers until each of ``seqs`` is acknowledged; the first error raises (after
        every answer is read, so the socket stays usable)."""
        waiting = set(seqs)
        failure: OSError | None = None
        while waiting:
            for seq, message in self._receive():
                if message.kind != NLMSG_ERROR:
                    continue
                waiting.discard(seq)
                code = -struct.unpack_from("=i", message.body)[0]
                if code and failure is None:
                    failure = OSError(code, f"{what}: {os.strerror(code)}")
        if failure is not None:
            raise failure

    def dump(self, kind: int, body: bytes) -> Iterator[Message]:
        """Every message of a dump request's answer."""
        self._sock.send(self.pack(kind, NLM_F_REQUEST | NLM_F_DUMP, body))
        while True:
            for _seq, message in self._receive():
                if message.kind == NLMSG_DONE:
                    return
                if message.kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", message.body)[0]
                    if code:
                        raise OSError(code, f"dump {kind}: {os.strerror(code)}")
                    return
                yield message

    def _receive(self) -> list[tuple[int, Message]]:
        data = self._sock.recv(1 << 20)
        messages = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            size, kind, flags, seq, _pid = _HEADER.unpack_from(data, offset)
            body = data[offset + _HEADER.size : offset + size]
            messages.append((seq, Message(kind, flags, body)))
            offset += _align(size)
        return messages
