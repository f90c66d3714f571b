"""An HTTP response whose body is sent piece by piece as it is produced.

Without a Content-Length the server (uvicorn) sends the body with chunked transfer encoding,
each ``http.response.body`` message as it comes; its flow control holds the producer back
while the client reads slowly, and after a client disconnects further pieces are dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from lamina.api.http import Response, Send


@dataclass
class StreamedResponse(Response):
    parts: AsyncIterator[bytes] | None = None

    async def send(self, send: Send, request_id: str) -> None:
        headers = [(b"x-amzn-requestid", request_id.encode())]
        if self.content_type is not None:
            headers.append((b"content-type", self.content_type.encode()))
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items())
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in self.header_pairs)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        if self.body:
            await send({"type": "http.response.body", "body": self.body, "more_body": True})
        if self.parts is not None:
            async for part in self.parts:
                await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
