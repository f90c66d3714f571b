"""Network modes of the namespace sandbox: loopback is never the host's (``egress``, the default
here, and ``none``), and ``host`` shares the host's network."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import ROLE, client_for, handler_zip, wait_active

CONNECT = """
import socket
def handler(event, context):
    try:
        with socket.create_connection(("127.0.0.1", event["port"]), timeout=2) as s:
            return s.recv(16).decode()
    except OSError as exc:
        return "refused: " + type(exc).__name__
"""


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP server on the host's loopback that greets each connection."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def _connect_from_a_function(endpoint: str, port: int) -> str:
    client = client_for(endpoint)
    client.create_function(
        FunctionName="net", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(CONNECT)},
    )  # fmt: skip
    wait_active(client, "net")
    response = client.invoke(FunctionName="net", Payload=json.dumps({"port": port}))
    return str(json.loads(response["Payload"].read()))


def test_by_default_an_environment_cannot_reach_the_hosts_loopback(start_server, host_listener):
    server = start_server()

    assert _connect_from_a_function(server.endpoint, host_listener).startswith("refused")


def test_network_host_shares_the_hosts_network(start_server, host_listener):
    server = start_server("--network", "host")

    assert _connect_from_a_function(server.endpoint, host_listener) == "hello"
