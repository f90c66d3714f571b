"""Network namespaces of the egress network, made ahead of demand.

Making a network namespace with its veth pair, addresses and routes takes milliseconds (and
deleting one more, as the kernel waits for RCU grace periods): too much for a cold start. The
pool keeps a few ready, made by a worker thread; an environment's intermediate process joins
one with ``setns`` (the jailer receives its descriptor with the other descriptors of the
request). A namespace lives as long as the descriptor the server holds and the environment's
processes: ``release`` only closes the descriptor, and once the environment's processes are
gone the kernel deletes the namespace with its veth pair (both ends) and the host's address
and route on it. Deleting the veth here instead would cost ~25 ms of the kernel's RTNL lock
per environment; the kernel's own clean-up batches many namespaces into one pass. A server
that dies takes every namespace of its own with it the same way.

A namespace is made by a thread that unshares its own network namespace (only that thread
moves), opens it, configures the inside over a netlink socket opened there, and returns to the
host's namespace before doing anything else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections import deque
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

from lamina.sandbox import linux, netlink, rtnl
from lamina.sandbox.egress import EgressNetwork
from lamina.sandbox.netlink import NetlinkSocket

log = logging.getLogger(__name__)

POOL_SIZE = 16
MAX_ATTEMPTS = 8
INSIDE_NAME = "eth0"
INSIDE_INDEX = 2
"""The veth's index in its namespace, where only loopback (1) exists before it."""


@dataclass(frozen=True)
class NetworkLease:
    """One ready namespace: its descriptor, the host's veth name and the addresses."""

    netns_fd: int
    slot: int
    host_name: str
    host_address: str
    address: str


class NetnsPool:
    def __init__(self, network: EgressNetwork, size: int = POOL_SIZE) -> None:
        self.network = network
        self.size = size
        self._ready: deque[NetworkLease] = deque()
        self._used: set[int] = set()  # slots being made now (made ones hold their veth name)
        self._next_slot = 1
        self._lock = threading.Lock()
        self._making = threading.Lock()  # one at a time: in parallel they only contend
        self._refilling = False
        self._closed = False

    def take(self) -> NetworkLease | None:
        """A ready namespace, or None when the pool is empty (then ``make`` one)."""
        with self._lock:
            lease = self._ready.popleft() if self._ready else None
        self.refill_soon()
        return lease

    def make(self) -> NetworkLease:
        """A new namespace, made on the calling thread (blocks for milliseconds)."""
        for _attempt in range(MAX_ATTEMPTS):
            slot = self._allocate()
            try:
                with self._making:
                    return _make(self.network, slot)
            except FileExistsError:
                continue  # that slot's last veth is still being deleted by the kernel
            finally:
                with self._lock:
                    self._used.discard(slot)
        raise OSError(f"no free veth name in {self.network.veth_prefix}*")

    def release(self, lease: NetworkLease) -> None:
        """Drop the lease's namespace: the kernel deletes it, and its veth pair, once the
        environment's processes are gone too."""
        with contextlib.suppress(OSError):
            os.close(lease.netns_fd)

    def _allocate(self) -> int:
        with self._lock:
            for _ in range(self.network.slots):
                slot = self._next_slot
                self._next_slot = slot % self.network.slots + 1
                if slot not in self._used:
                    self._used.add(slot)
                    return slot
        raise OSError(f"every address of {self.network.subnet} is in use")

    def refill_soon(self) -> None:
        with self._lock:
            if self._refilling or self._closed or len(self._ready) >= self.size:
                return
            self._refilling = True
        threading.Thread(target=self._refill, name="netns-pool", daemon=True).start()

    def _refill(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._ready) >= self.size:
                        return
                try:
                    lease = self.make()
                except OSError as exc:
                    log.warning("cannot make network namespaces ahead of time: %s", exc)
                    return
                with self._lock:
                    self._ready.append(lease)
        finally:
            with self._lock:
                self._refilling = False

    def close(self) -> None:
        """Release the namespaces still waiting (those in use go with their environments)."""
        with self._lock:
            self._closed = True
            ready, self._ready = list(self._ready), deque()
        for lease in ready:
            self.release(lease)


def _make(network: EgressNetwork, slot: int) -> NetworkLease:
    host_name, host_address, address = network.link(slot)
    netns_fd, inside = _new_namespace()
    try:
        with NetlinkSocket(netlink.NETLINK_ROUTE) as host, inside:
            rtnl.create_veth(host, host_name, INSIDE_NAME, netns_fd, INSIDE_INDEX)
            try:
                _set_sysctl(f"/proc/sys/net/ipv6/conf/{host_name}/disable_ipv6", "1")
                rtnl.add_address(host, socket.if_nametoindex(host_name), host_address, 30)
                rtnl.add_address(inside, INSIDE_INDEX, address, 30)
                rtnl.set_up(inside, INSIDE_INDEX, INSIDE_NAME)
                rtnl.add_route(inside, rtnl.Route(IPv4Network("0.0.0.0/0"), host_address))
            except BaseException:
                with contextlib.suppress(OSError):
                    rtnl.delete_link(host, host_name)
                raise
    except BaseException:
        os.close(netns_fd)
        raise
    return NetworkLease(netns_fd, slot, host_name, host_address, address)


def _new_namespace() -> tuple[int, NetlinkSocket]:
    """A new network namespace (its descriptor) with loopback up and IPv6 off, and a netlink
    socket that acts in it; the calling thread is back in its own namespace on return."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.unshare(linux.CLONE_NEWNET)
        try:
            netns_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            # Interfaces made from now on in this namespace (its eth0) get no IPv6.
            _set_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")
            inside = NetlinkSocket(netlink.NETLINK_ROUTE)
            rtnl.set_up(inside, 1, "loopback")
        finally:
            linux.setns(own, linux.CLONE_NEWNET)
    finally:
        os.close(own)
    return netns_fd, inside


def _set_sysctl(path: str, value: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(path).write_text(value)
