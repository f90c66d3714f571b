"""Function URLs in ``RESPONSE_STREAM`` mode: the function's bytes go out as it writes them.

The response is sent with chunked transfer encoding, each piece when the function writes it.
Its status and headers come from the stream itself when the function used Node.js's
``awslambda.HttpResponseStream.from`` (content type
``application/vnd.awslambda.http-integration-response``: a JSON prelude with ``statusCode``,
``headers``, ``cookies``, then eight NUL bytes, then the body); otherwise the status is 200
and the content type is the stream's (``application/octet-stream`` unless the function set
one). A function that does not stream (Python) is answered from its whole result, by the
buffered rules of ``invoke/http_event.py``. A failure before the first byte is AWS's 502; a
failure after it ends the body where it is (the status has been sent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from lamina.api.http import Response
from lamina.api.streamed import StreamedResponse
from lamina.invoke import Invoker, http_event
from lamina.invoke.streams import StreamedInvocation
from lamina.model import InvokeRequest

Headers = list[tuple[str, str]]
MAX_PRELUDE_BYTES = 1 << 20
"""A prelude longer than this without its delimiter is not a response (502)."""


async def respond(
    invoker: Invoker, request: InvokeRequest, finish: Callable[[Headers], Headers]
) -> Response:
    """Run ``request`` streamed and answer with its stream; ``finish`` adds the URL's own
    headers (CORS, trace id) to the function's."""
    stream = await StreamedInvocation.start(invoker, request)
    chunks = stream.chunks()
    first = await anext(chunks, None)
    if first is None:
        return await _unstreamed(stream, finish)
    body = first
    if stream.content_type == http_event.PRELUDE_CONTENT_TYPE:
        head = await _prelude(first, chunks)
        if head is None:
            await stream.abandon()
            return _bad_gateway()
        status, headers, body = head
    else:
        content_type = stream.content_type or http_event.STREAMED_CONTENT_TYPE
        status, headers = 200, [("content-type", content_type)]
    return StreamedResponse(
        status,
        body,
        content_type=None,
        header_pairs=finish(headers),
        parts=_rest(chunks, stream),
    )


async def _unstreamed(stream: StreamedInvocation, finish: Callable[[Headers], Headers]) -> Response:
    """Nothing was streamed: the whole result (a runtime that cannot stream), or an empty
    stream, or an error before any byte."""
    result = await stream.result()
    if result.function_error is not None:
        return _bad_gateway()
    if stream.content_type is not None and not result.payload:
        headers: Headers = [("content-type", stream.content_type)]
        if stream.content_type == http_event.PRELUDE_CONTENT_TYPE:
            headers = [("content-type", http_event.STREAMED_CONTENT_TYPE)]
        return Response(200, b"", content_type=None, header_pairs=finish(headers))
    try:
        mapped = http_event.response(result.payload)
    except http_event.InvalidResponseError:
        return _bad_gateway()
    return Response(
        mapped.status, mapped.body, content_type=None, header_pairs=finish(mapped.headers)
    )


async def _prelude(first: bytes, chunks: AsyncIterator[bytes]) -> tuple[int, Headers, bytes] | None:
    """(status, headers, start of the body) read off the stream, or None if it has none."""
    buffer = bytearray(first)
    while (end := buffer.find(http_event.PRELUDE_DELIMITER)) < 0:
        if len(buffer) > MAX_PRELUDE_BYTES:
            return None
        more = await anext(chunks, None)
        if more is None:
            end = len(buffer)
            break
        buffer += more
    try:
        status, headers = http_event.streamed_head(bytes(buffer[:end]))
    except http_event.InvalidResponseError:
        return None
    rest = bytes(buffer[end + len(http_event.PRELUDE_DELIMITER) :])
    return status, headers, rest


async def _rest(chunks: AsyncIterator[bytes], stream: StreamedInvocation) -> AsyncIterator[bytes]:
    async for data in chunks:
        yield data
    await stream.abandon()  # the outcome is in the function's logs; the status has gone out


def _bad_gateway() -> Response:
    return Response(502, b"Internal Server Error")
