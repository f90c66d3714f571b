"""The ``egress`` network (the default where the host allows it): out through NAT, never into
the host, and nothing left behind. The outside world is a namespace of the test's own
(``tests/outside.py``): no packet leaves this machine."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lamina.sandbox import egress, netlink, nftables, rtnl
from lamina.sandbox.netlink import NetlinkSocket
from lamina.sandbox.resolvers import read_resolvers
from tests.conftest import (
    FUNCTIONS_DIR,
    ROLE,
    RunningServer,
    client_for,
    handler_zip,
    invoke,
    wait_active,
)
from tests.outside import Outside, host_addresses

pytestmark = pytest.mark.skipif(
    os.environ.get("LAMINA_SANDBOX") == "process",
    reason="the process backend was chosen explicitly: it has no network of its own",
)

UNREACHED = ("ETIMEDOUT", "ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH")


@pytest.fixture(scope="module")
def outside() -> Iterator[Outside]:
    world = Outside()
    yield world
    world.close()


class Probe:
    """The hostile test function deployed on one server, to try network attempts with."""

    def __init__(self, server: RunningServer, name: str = "probe") -> None:
        self.client = client_for(server.endpoint)
        self.name = name
        self.client.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
            Timeout=30, Code={"ZipFile": handler_zip((FUNCTIONS_DIR / "hostile.py").read_text())},
        )  # fmt: skip
        wait_active(self.client, name)

    def attempt(self, what: str, **event: Any) -> Any:
        return invoke(self.client, self.name, {"attempt": what, **event})[1]


def leftovers_after(pid: int, timeout_s: float = 15.0) -> list[str]:
    """What is still left once the kernel had time to delete dropped namespaces."""
    deadline = time.monotonic() + timeout_s
    while (found := leftovers(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def leftovers(pid: int) -> list[str]:
    """What a server of this pid still has on the host: veths, subnet claims, tables."""
    with NetlinkSocket(netlink.NETLINK_ROUTE) as sock:
        found = [n for _i, n in rtnl.links(sock) if n.startswith(f"{egress.VETH_PREFIX}{pid:x}x")]
        found += [str(r.destination) for r in rtnl.routes(sock)
                  if r.protocol == egress.ROUTE_PROTOCOL and r.priority == pid]  # fmt: skip
    with NetlinkSocket(netlink.NETLINK_NETFILTER) as sock:
        found += [n for _f, n in nftables.tables(sock) if n == f"{egress.TABLE_PREFIX}{pid}"]
    return found


def test_by_default_an_environment_reaches_the_outside_and_the_server_says_so(
    start_server, outside
):
    server = start_server()

    outcome = Probe(server).attempt("fetch", url=outside.url)

    assert outcome == {"ok": outside.host_address}
    assert "network 'egress'" in server.log()


def test_network_none_gives_loopback_only(start_server, outside):
    server = start_server("--network", "none")

    outcome = Probe(server).attempt("fetch", url=outside.url)

    assert "ENETUNREACH" in str(outcome)


def test_lambdas_api_on_every_address_of_the_host_is_unreachable(start_server, outside):
    server = start_server("--network", "egress", "--host", "0.0.0.0")
    probe = Probe(server)
    addresses = host_addresses()
    for address in addresses:  # the host itself reaches it on each
        socket.create_connection((address, server.port), timeout=2).close()

    outcomes = {
        address: probe.attempt("connect", host=address, port=server.port, timeout=0.5)
        for address in addresses
    }

    assert all(o.get("errno") in UNREACHED for o in outcomes.values()), outcomes


def test_a_chosen_subnet_gives_the_environments_addresses(start_server, outside):
    server = start_server("--egress-subnet", "10.199.0.0/16")

    seen = Probe(server).attempt("listen", towards=outside.address)

    assert ipaddress.IPv4Address(seen["address"]) in ipaddress.IPv4Network("10.199.0.0/16")


def test_egress_chosen_explicitly_refuses_to_start_when_its_subnet_is_taken(tmp_path, start_server):
    start_server("--egress-subnet", "10.198.0.0/16")
    second = RunningServer(tmp_path / "second", _free_port(),
                           ["--network", "egress", "--egress-subnet", "10.198.0.0/16"])  # fmt: skip

    with pytest.raises(RuntimeError, match="overlaps a route"):
        second.start()


def test_by_default_a_server_that_cannot_have_egress_falls_back_to_none_and_says_why(
    tmp_path, start_server, outside
):
    start_server("--egress-subnet", "10.197.0.0/16")
    second = start_server("--egress-subnet", "10.197.0.0/16", data_dir=tmp_path / "second")

    outcome = Probe(second).attempt("fetch", url=outside.url)

    assert "ENETUNREACH" in str(outcome)
    assert "egress through NAT is not available on this host" in second.log()


def test_stopping_the_server_leaves_nothing_on_the_host(start_server, outside):
    server = start_server()
    Probe(server).attempt("fetch", url=outside.url)
    assert server.process is not None
    pid = server.process.pid
    assert leftovers(pid)  # the subnet's claim and the table, at least

    assert server.stop() == 0

    assert leftovers_after(pid) == []


def test_a_crashed_servers_leftovers_are_removed_at_the_next_start(start_server, outside):
    server = start_server()
    Probe(server).attempt("fetch", url=outside.url)
    assert server.process is not None
    pid = server.process.pid

    server.stop(signal.SIGKILL)
    server.start()

    assert leftovers_after(pid) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_environment_resolves_through_the_hosts_reachable_resolvers(start_server):
    server = start_server()

    seen = Probe(server).attempt("read_file", path="/etc/resolv.conf")

    assert seen == {"ok": read_resolvers().content[:200]}


def test_a_function_can_choose_loopback_only_with_a_variable(start_server, outside):
    server = start_server()
    probe = Probe(server)
    probe.client.update_function_configuration(
        FunctionName=probe.name, Environment={"Variables": {"LAMINA_NETWORK": "none"}}
    )
    wait_active(probe.client, probe.name)

    outcome = probe.attempt("fetch", url=outside.url)

    assert "ENETUNREACH" in str(outcome)
