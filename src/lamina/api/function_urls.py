"""Serving function URLs: an HTTP request in, one invocation, the function's HTTP response out.

A request reaches a URL by its host name, ``<url-id>.lambda-url.<region>.localhost[:port]``
(what GetFunctionUrlConfig answers), or by the path form ``/_lamina/urls/<url-id>/<path>``,
which needs no DNS. Either way it skips the API's SigV4 check and is authorised as AWS
authorises URLs (AWS Lambda Developer Guide, "Security and auth model for Lambda function URLs"):

- ``NONE``: the function's policy must grant ``lambda:InvokeFunctionUrl`` to everyone (AddPermission
  with ``Principal="*"``, ``FunctionUrlAuthType="NONE"``); else 403.
- ``AWS_IAM``: the request must carry a valid SigV4 signature (service ``lambda``) of a
  configured key; a caller of another account also needs a policy statement granting it
  ``lambda:InvokeFunctionUrl``.

Errors are answered in the URL's own shape, ``{"Message": ...}`` with ``x-amzn-ErrorType``; a
function error is AWS's ``502 Internal Server Error``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import TYPE_CHECKING

from lamina.api import cors, sigv4, url_streams
from lamina.api.http import Request, Response, Scope
from lamina.api.sigv4 import Credential, MissingAuthenticationTokenException
from lamina.errors import AccessDeniedException, LaminaError, RequestEntityTooLargeException
from lamina.invoke import http_event
from lamina.model import FunctionUrlConfig, InvokeRequest

if TYPE_CHECKING:
    from lamina.api.app import Services

PATH_PREFIX = "/_lamina/urls/"
ACTION = "lambda:InvokeFunctionUrl"
MAX_BODY_BYTES = 6_291_456
FORBIDDEN = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)
_ADDED_HEADERS = frozenset(
    {"x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "connection"}
)
_HOST = re.compile(r"([a-z0-9]{32})\.lambda-url\.([a-z0-9-]+)\.localhost(?::\d+)?")
_PATH = re.compile(r"/_lamina/urls/([a-z0-9]{32})(/.*)?", re.DOTALL)


def host_url(host: str) -> tuple[str, str] | None:
    """(url-id, region) of a function URL's host name, or None (cheap for every other
    request: they have no ``.lambda-url.`` in their Host header)."""
    if ".lambda-url." not in host:
        return None
    found = _HOST.fullmatch(host.lower())
    return (found[1], found[2]) if found else None


async def serve_host(services: Services, request: Request, url_id: str, region: str) -> Response:
    """A request by host name; the URL of another region is as unknown as a wrong id."""
    if region != services.region:
        return _error(403, "AccessDeniedException", None)
    raw = request.scope.get("raw_path", request.path.encode()).decode("latin-1")
    return await serve(services, request, url_id, raw or "/", request.path or "/")


async def serve_path(services: Services, request: Request) -> Response:
    """``/_lamina/urls/<url-id>/<path>``: the function sees ``/<path>``."""
    found = _PATH.fullmatch(request.path)
    if found is None:
        return _error(403, "AccessDeniedException", None)
    raw = request.scope.get("raw_path", request.path.encode()).decode("latin-1")
    raw_found = _PATH.fullmatch(raw)
    raw_rest = raw_found[2] if raw_found else found[2]
    return await serve(services, request, found[1], raw_rest or "/", found[2] or "/")


async def serve(
    services: Services, request: Request, url_id: str, raw_path: str, path: str
) -> Response:
    url = await services.urls.by_id(url_id)
    if url is None:
        return _error(403, "AccessDeniedException", None)
    try:
        return await _serve(services, request, url, raw_path, path)
    except LaminaError as error:
        return _error(error.status, error.error_type, error.message)


async def _serve(
    services: Services, request: Request, url: FunctionUrlConfig, raw_path: str, path: str
) -> Response:
    origin = request.headers.get("origin")
    if url.cors and cors.is_preflight(request.method, request.headers):
        return Response(200, b"", header_pairs=cors.preflight_headers(url.cors, origin))
    body = await request.body(MAX_BODY_BYTES, _too_large)
    caller = await _authorise(services, request, url)
    trace_id = request.headers.get("x-amzn-trace-id") or _trace_id()
    http = _http_request(services, request, url, (raw_path, path), body, caller, trace_id)
    invocation = InvokeRequest(
        function_name=url.function_name,
        qualifier=url.qualifier or None,
        payload=json.dumps(http_event.event(http)).encode(),
        request_id=request.request_id,
        trace_id=trace_id,
    )

    def finish(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The URL's own headers on the function's response: CORS, the trace id."""
        if url.cors:
            headers = cors.merge(headers, cors.response_headers(url.cors, origin))
        headers.append(("x-amzn-trace-id", _response_trace(trace_id)))
        return headers

    if url.invoke_mode == "RESPONSE_STREAM":
        return await url_streams.respond(services.invoker, invocation, finish)
    result = await services.invoker.invoke(invocation)
    if result.function_error is not None:
        return _internal_error()
    try:
        mapped = http_event.response(result.payload)
    except http_event.InvalidResponseError:
        return _internal_error()
    return Response(
        mapped.status, mapped.body, content_type=None, header_pairs=finish(mapped.headers)
    )


async def _authorise(
    services: Services, request: Request, url: FunctionUrlConfig
) -> Credential | None:
    """The signing caller (AWS_IAM) or None (NONE, or authentication off); 403 if refused."""
    auth_type = url.auth_type
    context = {"lambda:functionurlauthtype": auth_type, "lambda:invokedviafunctionurl": "true"}
    if auth_type == "AWS_IAM":
        caller = _signer(services, request)
        if caller is None or caller.account == services.account:
            return caller
        principal: str | None = caller.principal
    else:
        caller = principal = None
    qualifier = url.qualifier or None
    if not await services.permissions.grants(
        url.function_name, qualifier, principal, ACTION, context
    ):
        raise AccessDeniedException(FORBIDDEN)
    return caller


def _signer(services: Services, request: Request) -> Credential | None:
    if services.credentials is None:
        return None
    try:
        return sigv4.verify(request.signed(), services.credentials, services.region, ("lambda",))
    except MissingAuthenticationTokenException:
        raise AccessDeniedException("Forbidden") from None


def _http_request(
    services: Services,
    request: Request,
    url: FunctionUrlConfig,
    paths: tuple[str, str],
    body: bytes,
    caller: Credential | None,
    trace_id: str,
) -> http_event.HttpRequest:
    """What the event is built from; ``paths`` is (raw path, decoded path) as the function
    sees them."""
    scope = request.scope
    client = scope.get("client") or ("", 0)
    return http_event.HttpRequest(
        method=request.method,
        raw_path=paths[0],
        path=paths[1],
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=_event_headers(scope, trace_id),
        body=body,
        url_id=url.url_id,
        domain_name=f"{url.url_id}.lambda-url.{services.region}.localhost",
        account_id=caller.account if caller is not None else _account(services, url),
        request_id=request.request_id,
        source_ip=str(client[0]),
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        authorizer=_authorizer(caller) if caller is not None else None,
    )


def _event_headers(scope: Scope, trace_id: str) -> list[tuple[str, str]]:
    """The request's headers, then those AWS's front end adds (trace id, X-Forwarded-*)."""
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 0)
    headers = [
        (name, v.decode("latin-1"))
        for k, v in scope["headers"]
        if (name := k.decode("latin-1").lower()) not in _ADDED_HEADERS
    ]
    return [
        *headers,
        ("x-amzn-trace-id", trace_id),
        ("x-forwarded-for", str(client[0])),
        ("x-forwarded-port", str(server[1])),
        ("x-forwarded-proto", "http"),
    ]


def _account(services: Services, url: FunctionUrlConfig) -> str:
    """Without a signed caller: ``anonymous`` for a public URL, the owner's otherwise."""
    return "anonymous" if url.auth_type == "NONE" else services.account


def _authorizer(caller: Credential) -> dict[str, object]:
    return {
        "iam": {
            "accessKey": caller.access_key,
            "accountId": caller.account,
            "callerId": caller.account,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": caller.principal,
            "userId": caller.account,
        }
    }


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def _response_trace(trace_id: str) -> str:
    root = trace_id.split(";")[0].removeprefix("Root=").removeprefix("root=")
    return f"root={root};parent={secrets.token_hex(8)};sampled=0"


def _too_large(size: int) -> Exception:
    return RequestEntityTooLargeException(
        f"Request must be smaller than {MAX_BODY_BYTES} bytes for the InvokeFunction operation"
    )


def _internal_error() -> Response:
    return Response(502, b"Internal Server Error")


def _error(status: int, error_type: str, message: str | None) -> Response:
    body = json.dumps({"Message": message}, separators=(",", ":")).encode()
    return Response(status, body, {"x-amzn-errortype": error_type})
