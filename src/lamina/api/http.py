"""A minimal request/response pair over raw ASGI, kept lean for the invoke path."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from lamina.api.sigv4 import Credential, SignedRequest
from lamina.errors import InvalidRequestContentException, RequestEntityTooLargeException

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class Request:
    def __init__(self, scope: Scope, receive: Receive, request_id: str) -> None:
        self.scope = scope
        self._receive = receive
        self.request_id = request_id
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: dict[str, str] = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        self._query: dict[str, list[str]] | None = None
        self._body: bytes | None = None
        self.caller: Credential | None = None
        """Who signed the request (None when authentication is off)."""

    def query(self, name: str) -> str | None:
        values = self.query_all(name)
        return values[0] if values else None

    def query_all(self, name: str) -> list[str]:
        """Every value of a repeated query parameter (``tagKeys=a&tagKeys=b``)."""
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = parse_qs(raw, keep_blank_values=True)
        return self._query.get(name, [])

    @property
    def host(self) -> str:
        return self.headers.get("host", "127.0.0.1")

    async def body(self, limit: int, too_large: Callable[[int], Exception] | None = None) -> bytes:
        """The whole body; RequestEntityTooLargeException (or ``too_large``) past ``limit``.

        Read once; later calls check their own limit against what was read.
        """
        if self._body is not None:
            if len(self._body) > limit:
                raise (too_large or _too_large)(len(self._body))
            return self._body
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise (too_large or _too_large)(int(declared))
        chunks = bytearray()
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
            chunks += message.get("body", b"")
            if len(chunks) > limit:
                raise (too_large or _too_large)(len(chunks))
            if not message.get("more_body"):
                break
        self._body = bytes(chunks)
        return self._body

    def signed(self) -> SignedRequest:
        """What SigV4 covers, once the body has been read."""
        return SignedRequest(
            method=self.method,
            raw_path=self.scope.get("raw_path", self.path.encode()).decode("latin-1"),
            query_string=self.scope.get("query_string", b"").decode("latin-1"),
            headers=[
                (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self.scope["headers"]
            ],
            body=self._body or b"",
        )

    async def json(
        self, limit: int, too_large: Callable[[int], Exception] | None = None
    ) -> dict[str, Any]:
        """The body as a JSON object; an empty body is an empty object."""
        raw = await self.body(limit, too_large)
        if not raw.strip():
            return {}
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: {exc}"
            ) from exc
        if not isinstance(doc, dict):
            raise InvalidRequestContentException(
                "Could not parse request body into json: the body is not a JSON object"
            )
        return doc


def _too_large(size: int) -> Exception:
    return RequestEntityTooLargeException(f"Request of {size} bytes is too large")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    header_pairs: Sequence[tuple[str, str]] = ()
    """More headers, a name possibly repeated (Set-Cookie of function URLs)."""

    async def send(self, send: Send, request_id: str) -> None:
        headers = [
            (b"x-amzn-requestid", request_id.encode()),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if self.content_type is not None:
            headers.append((b"content-type", self.content_type.encode()))
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items())
        if self.header_pairs:
            headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in self.header_pairs)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(
    doc: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(status, json.dumps(doc).encode(), headers or {})


def empty_response(status: int) -> Response:
    return Response(status, b"", {}, content_type=None)
