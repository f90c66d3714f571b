"""InvokeWithResponseStream: the function's response as an event stream, sent as it is written.

``POST /2021-11-15/functions/{name}/response-streaming-invocations`` takes what Invoke takes
(``X-Amz-Invocation-Type`` RequestResponse or DryRun, ``X-Amz-Log-Type``,
``X-Amz-Client-Context``, ``Qualifier``, a JSON body) and answers 200 with
``X-Amz-Executed-Version`` and an ``application/vnd.amazon.eventstream`` body
(``api/eventstream.py``): one ``PayloadChunk`` per piece the function writes, as it writes it,
then one ``InvokeComplete`` with ``ErrorCode``/``ErrorDetails`` when the function failed
(also mid-stream: a timeout, an error after some chunks) and ``LogResult`` for ``Tail``. A
runtime that cannot stream (Python) sends its whole response as one ``PayloadChunk``. Errors
before the function runs (unknown function, throttling, bad input) are ordinary API errors.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from lamina.api import eventstream, invocations
from lamina.api.http import Request, Response, empty_response
from lamina.api.streamed import StreamedResponse
from lamina.invoke.streams import StreamedInvocation
from lamina.model import InvocationType

if TYPE_CHECKING:
    from lamina.api.app import Services

_TYPES = {"RequestResponse": InvocationType.REQUEST_RESPONSE, "DryRun": InvocationType.DRY_RUN}


async def invoke_with_response_stream(services: Services, request: Request, name: str) -> Response:
    invocation_type = invocations.parse_invocation_type(
        request.headers.get("x-amz-invocation-type"), _TYPES
    )
    invoke_request = await invocations.parse(services, request, name, invocation_type)
    if invocation_type is InvocationType.DRY_RUN:
        await services.invoker.invoke(invoke_request)
        return empty_response(204)
    stream = await StreamedInvocation.start(services.invoker, invoke_request)
    headers = {"x-amz-executed-version": stream.executed_version or ""}
    return StreamedResponse(
        200, headers=headers, content_type=eventstream.CONTENT_TYPE, parts=_events(stream)
    )


async def _events(stream: StreamedInvocation) -> AsyncIterator[bytes]:
    async for data in stream.chunks():
        yield eventstream.payload_chunk(data)
    result = await stream.result()
    log_result = result.log_tail.decode() if result.log_tail is not None else None
    if result.function_error is None:
        if result.payload:
            yield eventstream.payload_chunk(result.payload)
        yield eventstream.invoke_complete(log_result=log_result)
        return
    error_code, error_details = _error(result.payload)
    yield eventstream.invoke_complete(error_code, error_details, log_result)


def _error(payload: bytes) -> tuple[str, str]:
    """(ErrorCode, ErrorDetails) from the function's error document: its type and message."""
    try:
        doc = json.loads(payload)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return "Unhandled", payload.decode("utf-8", "replace")
    return str(doc.get("errorType") or "Unhandled"), str(doc.get("errorMessage") or "")
