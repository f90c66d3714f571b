"""CORS for function URLs: preflights answered from the URL's Cors settings, headers added.

What AWS does when a URL has Cors settings (observed responses, dev.to "AWS Lambda Function URL
with CORS explained by example"; AWS Lambda Developer Guide, "Cross-origin resource sharing"):

- A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by Lambda,
  the function is not invoked: 200, empty body, ``Vary: Origin`` and, for an allowed origin,
  Access-Control-Allow-Origin, -Allow-Headers, -Allow-Methods (the configured lists joined by
  commas), -Allow-Credentials and -Max-Age.
- Any other response gets ``Vary: Origin`` and, for an allowed origin, Access-Control-Allow-
  Origin, -Allow-Credentials and -Expose-Headers. The configured headers take precedence over
  the same headers from the function.

An origin is allowed when it is listed (compared case-insensitively) or the list holds ``*``;
a wildcard answers ``*``, or the origin itself when credentials are allowed (browsers refuse
``*`` with credentials).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Headers = list[tuple[str, str]]


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return (
        method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers
    )


def preflight_headers(cors: Mapping[str, Any], origin: str | None) -> Headers:
    headers: Headers = [("vary", "Origin")]
    allowed = allowed_origin(cors, origin)
    if allowed is None:
        return headers
    headers.append(("access-control-allow-origin", allowed))
    _add_list(headers, "access-control-allow-headers", cors.get("AllowHeaders"))
    _add_list(headers, "access-control-allow-methods", cors.get("AllowMethods"))
    if cors.get("AllowCredentials"):
        headers.append(("access-control-allow-credentials", "true"))
    if cors.get("MaxAge"):
        headers.append(("access-control-max-age", str(cors["MaxAge"])))
    return headers


def response_headers(cors: Mapping[str, Any], origin: str | None) -> Headers:
    headers: Headers = [("vary", "Origin")]
    allowed = allowed_origin(cors, origin)
    if allowed is None:
        return headers
    headers.append(("access-control-allow-origin", allowed))
    if cors.get("AllowCredentials"):
        headers.append(("access-control-allow-credentials", "true"))
    _add_list(headers, "access-control-expose-headers", cors.get("ExposeHeaders"))
    return headers


def merge(own: Sequence[tuple[str, str]], configured: Headers) -> Headers:
    """The function's headers with the configured CORS headers replacing any of the same name."""
    names = {name for name, _ in configured}
    return [(n, v) for n, v in own if n not in names] + configured


def allowed_origin(cors: Mapping[str, Any], origin: str | None) -> str | None:
    """What Access-Control-Allow-Origin says to ``origin``, or None if it is not allowed."""
    if not origin:
        return None
    origins = cors.get("AllowOrigins") or []
    if any(o != "*" and o.lower() == origin.lower() for o in origins):
        return origin
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    return None


def _add_list(headers: Headers, name: str, values: object) -> None:
    if isinstance(values, list) and values:
        headers.append((name, ",".join(values)))
