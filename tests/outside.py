"""An "outside world" on this machine: a network namespace with an HTTP server, routed to.

Egress tests need somewhere to go that is not the host and not another machine (no test traffic
may leave this machine). ``Outside`` makes a network namespace of its own with a veth pair to
the host — addresses from 198.18.0.0/15, the range RFC 2544 reserves for benchmarking, one /24
per outside — and runs a tiny HTTP server in it that answers each request with the address it
came from (so a test can see the host's NAT at work). Everything goes when it is closed.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import secrets
import socket
import struct
import subprocess
import sys
from pathlib import Path

from lamina.sandbox import netlink, rtnl
from lamina.sandbox.netlink import NetlinkSocket

PORT = 8080
_SERVER = r"""
import ipaddress, socket, sys, http.server
sys.path.insert(0, sys.argv[1])
from lamina.sandbox import linux, netlink, rtnl
linux.unshare(linux.CLONE_NEWNET)
print("ready", flush=True)
sys.stdin.readline()  # the host has made the veth pair
with netlink.NetlinkSocket(netlink.NETLINK_ROUTE) as sock:
    rtnl.set_up(sock, 1, "lo")
    index = socket.if_nametoindex("eth0")
    rtnl.add_address(sock, index, sys.argv[2], 24)
    rtnl.set_up(sock, index, "eth0")

class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.client_address[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[3])), Echo)
print("serving", flush=True)
server.serve_forever()
"""


class Outside:
    """The namespace, its server and the host's route to it."""

    def __init__(self) -> None:
        self.name = f"ltout{secrets.token_hex(3)}"  # not lamina's "lmn" prefix
        network = ipaddress.IPv4Network(f"198.18.{secrets.randbelow(254) + 1}.0/24")
        self.host_address = str(network.network_address + 1)
        self.address = str(network.network_address + 2)
        source = str(Path(__file__).resolve().parent.parent / "src")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, source, self.address, str(PORT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            self._expect("ready")
            netns = os.open(f"/proc/{self.process.pid}/ns/net", os.O_RDONLY)
            with NetlinkSocket(netlink.NETLINK_ROUTE) as sock:
                try:
                    rtnl.create_veth(sock, self.name, "eth0", netns)
                finally:
                    os.close(netns)
                index = dict((n, i) for i, n in rtnl.links(sock))[self.name]
                rtnl.add_address(sock, index, self.host_address, 24)
            assert self.process.stdin is not None
            self.process.stdin.write("go\n")
            self.process.stdin.flush()
            self._expect("serving")
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        return f"http://{self.address}:{PORT}/"

    def _expect(self, word: str) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != word:
            raise RuntimeError(f"the outside namespace did not start: {line!r}")

    def close(self) -> None:
        with contextlib.suppress(OSError), NetlinkSocket(netlink.NETLINK_ROUTE) as sock:
            rtnl.delete_link(sock, self.name)
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def host_addresses() -> list[str]:
    """The host's IPv4 addresses on every interface but lamina's and the outsides' veths."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            if name.startswith(("lmn", "ltout")):
                continue
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock, _SIOCGIFADDR, request)
            except OSError:
                continue  # no IPv4 address
            found.append(socket.inet_ntoa(answer[20:24]))
    return found


_SIOCGIFADDR = 0x8915
