"""A minimal blocking HTTP/1.1 client over one keep-alive socket with TCP_NODELAY.

The latency benchmarks use it instead of http.client or boto3 so that what they measure is the
server, not the client: one ``sendall`` per request and ``recv`` until ``Content-Length`` bytes
of body have arrived. It understands exactly what lamina and uvicorn send back (a status line,
headers and a ``Content-Length`` body), nothing more.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Names lower-cased."""
    body: bytes


def build_request(
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    host: str = HOST,
) -> bytes:
    """The bytes of one keep-alive request, ready to send as many times as needed.

    Signed with SigV4 (key test/test) as an SDK would; the signature stays valid for five
    minutes, so build requests per measurement, not once per run.
    """
    all_headers = dict(headers or {})
    if body or method in ("POST", "PUT"):
        all_headers["Content-Type"] = "application/json"
    all_headers.update(sign(method, host, path, body, all_headers))
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines.extend(f"{name}: {value}" for name, value in all_headers.items())
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def sign(
    method: str, host: str, path: str, body: bytes, headers: Mapping[str, str]
) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    return {
        k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-amz-date")
    }


class ProtocolError(Exception):
    """The server sent something this client does not read (chunked bodies, garbage)."""


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and lower-cased headers of a response head (without the blank line)."""
    status_line, *header_lines = head.split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if "chunked" in headers.get("transfer-encoding", ""):
        raise ProtocolError("chunked responses are not supported by this client")
    return int(parts[1]), headers


class Connection:
    """One keep-alive connection to ``127.0.0.1:port``."""

    def __init__(self, port: int, timeout_s: float = 60.0, host: str = HOST) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = bytearray()

    def request(self, raw: bytes) -> Response:
        """Send prepared request bytes and read the whole response."""
        self.sock.sendall(raw)
        return self.read_response()

    def timed(self, raw: bytes) -> tuple[float, Response]:
        """``request`` with its wall time in seconds: from the first byte sent to the last read."""
        started = time.perf_counter()
        self.sock.sendall(raw)
        response = self.read_response()
        return time.perf_counter() - started, response

    def read_response(self) -> Response:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            self._fill()
            end = buffer.find(b"\r\n\r\n")
        status, headers = parse_head(bytes(buffer[:end]))
        del buffer[: end + 4]
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            self._fill()
        body = bytes(buffer[:length])
        del buffer[:length]
        return Response(status, headers, body)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._buffer += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get(port: int, path: str, timeout_s: float = 5.0) -> Response:
    """One GET on a fresh connection."""
    with Connection(port, timeout_s) as conn:
        return conn.request(build_request("GET", path))
