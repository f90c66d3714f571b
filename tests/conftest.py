"""Shared fixtures: a real ``lamina serve`` on a free port, boto3 clients at it, functions.

Most end-to-end tests share one session-scoped server and isolate themselves by unique function
names; tests that restart or kill a server start their own with ``start_server``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.node_binaries import override_variable, provide_missing_nodes

FUNCTIONS_DIR = Path(__file__).parent / "functions"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A ``lamina serve`` subprocess and what it needs to be restarted on the same data."""

    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.process = self._spawn(log)
        self._wait_ready(timeout_s)

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "lamina", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lamina serve exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_lamina/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"lamina serve did not become ready:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout_s)
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers of one's own (for restart and crash tests); all stopped at the end."""
    servers: list[RunningServer] = []

    def start(*extra_args: str, data_dir: Path | None = None) -> RunningServer:
        server = RunningServer(data_dir or tmp_path / "data", free_port(), list(extra_args))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process is not None:
            server.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def lamina_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = RunningServer(tmp_path_factory.mktemp("lamina") / "data", free_port())
    server.start()
    yield server
    if server.process is not None:
        server.stop()


def signed_headers(
    endpoint: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    service: str = "lambda",
    key: tuple[str, str] = ("test", "test"),
) -> dict[str, str]:
    """Headers that sign a raw HTTP request to lamina with SigV4, as an SDK would."""
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    SigV4Auth(Credentials(*key), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class UrlResponse:
    """What a function URL answered; header names lower-case, repeated ones repeated."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]

    def json(self) -> Any:
        return json.loads(self.body)


def signed_request(
    endpoint: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """Send one SigV4-signed HTTP request to lamina; any status comes back, none raises."""
    signed = signed_headers(endpoint, method, path, body, headers)
    request = urllib.request.Request(
        endpoint + path, data=body or None, method=method, headers=signed
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return RawResponse(response.status, _lower(response.headers), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return RawResponse(error.code, _lower(error.headers), error.read())


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def call_url(
    function_url: str,
    path: str = "/",
    method: str = "GET",
    body: bytes = b"",
    headers: list[tuple[str, str]] | dict[str, str] | None = None,
    *,
    form: str = "host",
) -> UrlResponse:
    """Send one request to a function URL on 127.0.0.1, naming it by the Host header (``host``,
    as a browser resolving ``*.localhost`` would) or by lamina's path form (``path``)."""
    parsed = urllib.parse.urlsplit(function_url)
    assert parsed.hostname is not None and parsed.port is not None
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if form == "host":
        target, host = path, parsed.netloc
    else:
        target, host = (
            f"/_lamina/urls/{parsed.hostname.split('.')[0]}{path}",
            f"127.0.0.1:{parsed.port}",
        )
    connection = http.client.HTTPConnection("127.0.0.1", parsed.port, timeout=120)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        if not any(name.lower() == "host" for name, _ in pairs):
            connection.putheader("Host", host)
        for name, value in pairs:
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        received = [(n.lower(), v) for n, v in response.getheaders()]
        return UrlResponse(response.status, received, response.read())
    finally:
        connection.close()


def client_for(endpoint: str, service: str = "lambda", **config: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, read_timeout=120, **config),
    )


@pytest.fixture(scope="session")
def lambda_client(lamina_server: RunningServer) -> Any:
    return client_for(lamina_server.endpoint)


@pytest.fixture(scope="session")
def raw_lambda_client(lamina_server: RunningServer) -> Any:
    """A client without botocore's own parameter checks, to reach the server's validation."""
    return client_for(lamina_server.endpoint, parameter_validation=False)


@pytest.fixture(scope="session")
def logs_client(lamina_server: RunningServer) -> Any:
    return client_for(lamina_server.endpoint, "logs")


def zip_files(files: dict[str, str | bytes]) -> bytes:
    """A zip of ``files``; the same files give the same bytes (entries carry a fixed date)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def handler_zip(source: str, module: str = "handler") -> bytes:
    return zip_files({f"{module}.py": textwrap.dedent(source)})


def unique_name(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def invoke(client: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Invoke with a JSON event; the response and its decoded JSON payload."""
    if event is not None:
        kwargs["Payload"] = json.dumps(event).encode()
    response: dict[str, Any] = client.invoke(FunctionName=name, **kwargs)
    return response, json.loads(response["Payload"].read())


def request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])


def tail(response: dict[str, Any]) -> str:
    return base64.b64decode(response["LogResult"]).decode()


def wait_active(client: Any, name: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        config: dict[str, Any] = client.get_function_configuration(FunctionName=name)
        if config["State"] == "Active" and config.get("LastUpdateStatus") != "InProgress":
            return config
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{name} stayed {config['State']}/{config.get('LastUpdateStatus')}"
            )
        time.sleep(0.02)


def processes_with(argument: str) -> list[int]:
    """Host pids of live processes with ``argument`` on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            zombie = (entry / "stat").read_text().split()[2] == "Z"
        except OSError:
            continue
        if argument.encode() in arguments and not zombie:
            found.append(int(entry.name))
    return found


MakeFunction = Callable[..., str]


@pytest.fixture
def make_function(lambda_client: Any) -> Iterator[MakeFunction]:
    """Create a function from handler source (or a file in tests/functions/); deleted after."""
    created: list[str] = []

    def make(
        source: str | None = None,
        *,
        file: str | None = None,
        handler: str = "handler.handler",
        runtime: str = "python3.12",
        zip_bytes: bytes | None = None,
        client: Any = None,
        **settings: Any,
    ) -> str:
        client = client or lambda_client
        if zip_bytes is None:
            text = (FUNCTIONS_DIR / file).read_text() if file else source
            assert text is not None, "give source, file or zip_bytes"
            zip_bytes = handler_zip(text, handler.rsplit(".", 1)[0])
        name = settings.pop("FunctionName", None) or unique_name()
        client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zip_bytes},
            **settings,
        )
        created.append(name)
        wait_active(client, name)
        return name

    yield make
    for name in created:
        with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
            lambda_client.delete_function(FunctionName=name)


NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")


def pytest_configure(config: pytest.Config) -> None:
    """Pin a node fetched from the npm registry for each Node.js runtime the host lacks, before
    any server starts (servers inherit the pins from this process's environment)."""
    from lamina.runtimes import discover
    from lamina.settings import Settings

    catalog = discover(Settings.load().runtime_overrides)
    available = {r: found.interpreter for r in NODE_RUNTIMES if (found := catalog.get(r))}
    for runtime, node in provide_missing_nodes(available, NODE_RUNTIMES).items():
        os.environ[override_variable(runtime)] = str(node)


@pytest.fixture(scope="session")
def node_runtime() -> str:
    """The newest Node.js runtime this host has a node for (the server finds the same ones, from
    the same environment); Node.js tests are skipped on a host without any."""
    from lamina.runtimes import discover
    from lamina.settings import Settings

    catalog = discover(Settings.load().runtime_overrides)
    for runtime in reversed(NODE_RUNTIMES):
        if runtime in catalog:
            return runtime
    pytest.skip(f"no node for any of {', '.join(NODE_RUNTIMES)} on this host")


@pytest.fixture
def make_node(make_function: MakeFunction, node_runtime: str) -> MakeFunction:
    """Create a Node.js function: ``source`` becomes index.js, ``file`` copies one of
    tests/functions/node/ (its handler then defaults to ``<file stem>.handler``), ``files``
    adds any others."""

    def make(
        source: str | None = None,
        *,
        file: str | None = None,
        files: dict[str, str | bytes] | None = None,
        handler: str | None = None,
        **settings: Any,
    ) -> str:
        package = dict(files or {})
        if source is not None:
            package["index.js"] = textwrap.dedent(source)
        if file is not None:
            package[file] = (FUNCTIONS_DIR / "node" / file).read_text()
        default = f"{Path(file).stem}.handler" if file else "index.handler"
        settings.setdefault("runtime", node_runtime)
        return make_function(zip_bytes=zip_files(package), handler=handler or default, **settings)

    return make
