"""Payload format 2.0: an HTTP request to a function URL as the event, the result as the response.

The translation AWS performs for function URLs, the schema of API Gateway HTTP APIs' payload
format 2.0 (AWS Lambda Developer Guide, "Invoking Lambda function URLs"):

- request → event: lower-case ``headers`` with repeated ones joined by commas, the Cookie header
  moved to ``cookies``, ``queryStringParameters`` with repeated keys joined by commas (absent
  without a query), ``requestContext`` (``http.method/path/protocol/sourceIp/userAgent``,
  ``requestId``, ``time``, ``timeEpoch``, ``authorizer.iam`` for AWS_IAM), and ``body``: text
  for text content types, base64 (``isBase64Encoded``) otherwise, absent when empty.
- result → response: a dict with ``statusCode`` is the HTTP response (``headers``, ``cookies`` as
  Set-Cookie, ``body`` decoded from base64 when ``isBase64Encoded``); anything else is the body
  with status 200 and ``content-type: application/json`` — a string as it is, any other value
  as compact JSON (recorded on AWS: ``{"hello":"world"}``, ``["hello",3,true]``, ``3.1``).

No HTTP server types here: the edge hands over an HttpRequest and sends the HttpResponse.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from lamina.errors import InternalError

_TEXT_MARKERS = ("json", "xml", "javascript", "yaml")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DROPPED_RESPONSE_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"}
)
DEFAULT_CONTENT_TYPE = "application/json"
STREAMED_CONTENT_TYPE = "application/octet-stream"
PRELUDE_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
"""A streamed response that starts with its status and headers: JSON, then eight NUL bytes."""
PRELUDE_DELIMITER = b"\0" * 8


class InvalidResponseError(InternalError):
    """The function's result cannot be an HTTP response (AWS answers 502)."""


@dataclass(frozen=True)
class HttpRequest:
    """One request to a function URL, as the edge received it."""

    method: str
    raw_path: str
    """The path as sent, percent-encoding included, without the query."""
    path: str
    """The decoded path."""
    raw_query: str
    headers: Sequence[tuple[str, str]]
    """Lower-case names, in arrival order, repeated ones repeated."""
    body: bytes
    url_id: str
    domain_name: str
    account_id: str
    """The caller's account for AWS_IAM, ``anonymous`` for NONE (as AWS fills it)."""
    request_id: str
    source_ip: str = ""
    protocol: str = "HTTP/1.1"
    time_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    authorizer: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    """Lower-case names; Set-Cookie once per cookie."""
    body: bytes


def event(request: HttpRequest) -> dict[str, Any]:
    """The payload format 2.0 event the function receives."""
    headers, cookies = _headers(request.headers)
    doc: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        doc["cookies"] = cookies
    doc["headers"] = headers
    if request.raw_query:
        doc["queryStringParameters"] = _query(request.raw_query)
    doc["requestContext"] = _context(request, headers)
    if request.body:
        text = _text(request.body, headers.get("content-type", ""))
        doc["body"] = text if text is not None else base64.b64encode(request.body).decode()
        doc["isBase64Encoded"] = text is None
    else:
        doc["isBase64Encoded"] = False
    return doc


def response(payload: bytes) -> HttpResponse:
    """The HTTP response for a function's (successful) result."""
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return HttpResponse(200, [("content-type", DEFAULT_CONTENT_TYPE)], payload)
    if isinstance(value, dict) and "statusCode" in value:
        return _structured(value)
    body = value.encode() if isinstance(value, str) else _compact(value)
    return HttpResponse(200, [("content-type", DEFAULT_CONTENT_TYPE)], body)


def streamed_head(prelude: bytes) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers of a streamed response from its JSON prelude (what Node.js's
    ``awslambda.HttpResponseStream.from`` writes before the body): ``statusCode`` (200 when
    absent), ``headers``, ``cookies``."""
    try:
        value = json.loads(prelude) if prelude.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise InvalidResponseError("the response's prelude is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidResponseError("the response's prelude is not an object")
    status = _status(value.get("statusCode", 200))
    headers = _response_headers(value.get("headers"))
    if not any(name == "content-type" for name, _ in headers):
        headers.append(("content-type", STREAMED_CONTENT_TYPE))
    headers += [("set-cookie", _header_value(c)) for c in _cookies(value.get("cookies"))]
    return status, headers


def _headers(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        elif name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    return headers, cookies


def _query(raw: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def _context(request: HttpRequest, headers: Mapping[str, str]) -> dict[str, Any]:
    context: dict[str, Any] = {
        "accountId": request.account_id,
        "apiId": request.url_id,
    }
    if request.authorizer is not None:
        context["authorizer"] = dict(request.authorizer)
    context.update(
        {
            "domainName": request.domain_name,
            "domainPrefix": request.url_id,
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": _clf_time(request.time_epoch_ms),
            "timeEpoch": request.time_epoch_ms,
        }
    )
    return context


def _clf_time(epoch_ms: int) -> str:
    """``12/Mar/2020:19:03:58 +0000``, in English whatever the locale."""
    t = time.gmtime(epoch_ms // 1000)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _text(body: bytes, content_type: str) -> str | None:
    """The body as text when its content type is textual and it is UTF-8; else None (base64)."""
    kind = content_type.lower()
    if not (kind.startswith("text/") or any(m in kind for m in _TEXT_MARKERS)):
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


def _structured(value: Mapping[str, Any]) -> HttpResponse:
    status = _status(value["statusCode"])
    headers = _response_headers(value.get("headers"))
    if not any(name == "content-type" for name, _ in headers):
        headers.append(("content-type", DEFAULT_CONTENT_TYPE))
    headers += [("set-cookie", _header_value(c)) for c in _cookies(value.get("cookies"))]
    return HttpResponse(status, headers, _body(value.get("body"), value.get("isBase64Encoded")))


def _status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidResponseError(f"statusCode {value!r} is not a number")
    try:
        status = int(value)
    except ValueError:
        raise InvalidResponseError(f"statusCode {value!r} is not a number") from None
    if not 100 <= status <= 599:
        raise InvalidResponseError(f"statusCode {status} is not an HTTP status")
    return status


def _response_headers(value: object) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise InvalidResponseError("headers must be an object")
    headers = []
    for name, raw in value.items():
        lower = str(name).lower()
        if lower in _DROPPED_RESPONSE_HEADERS or raw is None:
            continue
        headers.append((_header_value(lower), _header_value(_scalar(raw))))
    return headers


def _cookies(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidResponseError("cookies must be a list")
    return [str(c) for c in value]


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _header_value(value: str) -> str:
    """A value that can travel in an HTTP/1.1 header: Latin-1, no line breaks."""
    if "\r" in value or "\n" in value:
        raise InvalidResponseError("header contains a line break")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidResponseError("header is not Latin-1") from None
    return value


def _body(value: object, is_base64: object) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        return _compact(value)
    if is_base64 is True:
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise InvalidResponseError("body is not valid base64") from None
    return value.encode()


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
