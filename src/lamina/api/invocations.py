"""The Invoke routes: HTTP headers and body in, an InvokeRequest down, AWS's response out.

Invoke, and the legacy InvokeAsync, whose events join the same durable queue as Invoke's
``Event`` invocations.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING

from lamina import arns
from lamina.api.http import Request, Response, empty_response, json_response
from lamina.arns import validation_message
from lamina.errors import (
    AccessDeniedException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
    ValidationException,
)
from lamina.model import InvocationType, InvokeRequest

if TYPE_CHECKING:
    from lamina.api.app import Services

MAX_SYNC_PAYLOAD_BYTES = 6_291_456
MAX_EVENT_PAYLOAD_BYTES = 1_048_576
MAX_INVOKE_ASYNC_BYTES = 262_144
"""InvokeAsync kept the old 256 KB limit of asynchronous payloads."""
MAX_CLIENT_CONTEXT_BYTES = 3583
_TYPES = {
    "Event": InvocationType.EVENT,
    "RequestResponse": InvocationType.REQUEST_RESPONSE,
    "DryRun": InvocationType.DRY_RUN,
}
"""Invoke's invocation types, in the order the model's enum lists them."""


def _sync_too_large(size: int) -> Exception:
    return RequestEntityTooLargeException(
        f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the "
        "InvokeFunction operation"
    )


async def invoke(services: Services, request: Request, name: str) -> Response:
    invocation_type = parse_invocation_type(request.headers.get("x-amz-invocation-type"), _TYPES)
    result = await services.invoker.invoke(await parse(services, request, name, invocation_type))
    if result.status != 200:
        return empty_response(result.status)
    headers: dict[str, str] = {}
    if result.executed_version is not None:
        headers["x-amz-executed-version"] = result.executed_version
    if result.function_error is not None:
        headers["x-amz-function-error"] = result.function_error
    if result.log_tail is not None:
        headers["x-amz-log-result"] = result.log_tail.decode()
    return Response(200, result.payload, headers)


async def parse(
    services: Services, request: Request, name: str, invocation_type: InvocationType
) -> InvokeRequest:
    """The InvokeRequest of an Invoke or InvokeWithResponseStream call, checked as AWS checks
    it (the caller's permission, the body's size and JSON, the log type, the client context)."""
    function_name, qualifier = services.registry.reference(name, request.query("Qualifier"))
    await _authorise(services, request, function_name, qualifier)
    payload = await request.body(MAX_SYNC_PAYLOAD_BYTES, _sync_too_large)
    if invocation_type is InvocationType.EVENT and len(payload) > MAX_EVENT_PAYLOAD_BYTES:
        raise RequestEntityTooLargeException(
            f"{len(payload)} byte payload is too large for the Event invocation type "
            f"(limit {MAX_EVENT_PAYLOAD_BYTES} bytes)"
        )
    _check_json(payload)
    log_type = request.headers.get("x-amz-log-type")
    if log_type not in (None, "None", "Tail"):
        raise ValidationException(
            validation_message(
                log_type, "logType", "Member must satisfy enum value set: [None, Tail]"
            )
        )
    return InvokeRequest(
        function_name=function_name,
        qualifier=qualifier,
        payload=payload,
        invocation_type=invocation_type,
        tail_log=log_type == "Tail",
        client_context=_client_context(request.headers.get("x-amz-client-context")),
        request_id=request.request_id,
        trace_id=request.headers.get("x-amzn-trace-id"),
    )


async def invoke_async(services: Services, request: Request, name: str) -> Response:
    """Legacy InvokeAsync: the body is the event; answered 202 once it is durably queued."""
    function_name, qualifier = services.registry.reference(name, None)
    await _authorise(services, request, function_name, qualifier)
    payload = await request.body(MAX_INVOKE_ASYNC_BYTES, _invoke_async_too_large)
    _check_json(payload)
    await services.invoker.invoke(
        InvokeRequest(
            function_name=function_name,
            qualifier=qualifier,
            payload=payload,
            invocation_type=InvocationType.EVENT,
            request_id=request.request_id,
        )
    )
    return json_response({"Status": 202}, status=202)


def _invoke_async_too_large(size: int) -> Exception:
    return RequestEntityTooLargeException(
        f"Request must be smaller than {MAX_INVOKE_ASYNC_BYTES} bytes for the InvokeAsync operation"
    )


def parse_invocation_type(value: str | None, allowed: dict[str, InvocationType]) -> InvocationType:
    """The ``X-Amz-Invocation-Type`` header among ``allowed`` (RequestResponse if absent)."""
    if value is None:
        return InvocationType.REQUEST_RESPONSE
    try:
        return allowed[value]
    except KeyError:
        raise ValidationException(
            validation_message(
                value,
                "invocationType",
                f"Member must satisfy enum value set: [{', '.join(allowed)}]",
            )
        ) from None


def _check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from exc


def _client_context(value: str | None) -> str | None:
    """The JSON text of the base64 ``X-Amz-Client-Context`` header, checked."""
    if not value:
        return None
    if len(value) > MAX_CLIENT_CONTEXT_BYTES:
        raise InvalidRequestContentException(
            f"Client context must be smaller than {MAX_CLIENT_CONTEXT_BYTES} bytes."
        )
    try:
        text = base64.b64decode(value, validate=True).decode()
        doc = json.loads(text)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        )
    return text


async def _authorise(
    services: Services, request: Request, function_name: str, qualifier: str | None
) -> None:
    """A caller of another account needs a policy statement granting it the invocation."""
    caller = request.caller
    if caller is None or caller.account == services.account:
        return
    action = "lambda:InvokeFunction"
    if not await services.permissions.grants(function_name, qualifier, caller.principal, action):
        arn = arns.function_arn(services.region, services.account, function_name, qualifier)
        raise AccessDeniedException(
            f"User: {caller.principal} is not authorized to perform: {action} on resource: "
            f"{arn} because no resource-based policy allows the {action} action"
        )
