"""A streamed invocation: run in the background, its response read piece by piece as it comes.

The edge (InvokeWithResponseStream, RESPONSE_STREAM function URLs) starts one with
``StreamedInvocation.start``, which returns once the invocation has an environment — errors
before that (unknown function, throttling, no environment) are raised there, so the edge can
still answer them as ordinary errors — and then reads ``chunks()`` until the invocation ends,
and its ``result()`` last (function error, log tail).

The environment writes into the channel from its event-loop callbacks (``ResponseSink``); a
queue hands the pieces to the edge's coroutine in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING

from lamina.model import InvokeRequest, InvokeResult

if TYPE_CHECKING:
    from lamina.invoke.service import Invoker

_BEGUN = object()
_ENDED = object()


class StreamedInvocation:
    """One invocation whose response is streamed; also its ``ResponseSink``."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[InvokeResult] | None = None
        self.executed_version: str | None = None
        self.content_type: str | None = None

    @classmethod
    async def start(cls, invoker: Invoker, request: InvokeRequest) -> StreamedInvocation:
        """Start ``request``; return once it runs in an environment, or raise its error."""
        stream = cls()
        task = asyncio.create_task(invoker.invoke(replace(request, stream=stream)))
        stream._task = task
        task.add_done_callback(stream._ended)
        first = await stream._queue.get()
        if first is _ENDED:
            task.result()  # raises what stopped it before it ran
        return stream

    # -- ResponseSink ------------------------------------------------------------------------

    def begin(self, executed_version: str) -> None:
        self.executed_version = executed_version
        self._queue.put_nowait(_BEGUN)

    def write(self, data: bytes, content_type: str | None) -> None:
        if self.content_type is None:
            self.content_type = content_type
        if data:
            self._queue.put_nowait(data)

    def _ended(self, task: asyncio.Task[InvokeResult]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved here, raised by result()
        self._queue.put_nowait(_ENDED)

    # -- the edge's side ---------------------------------------------------------------------

    async def chunks(self) -> AsyncIterator[bytes]:
        """The response's bytes in order, until the invocation ends."""
        while True:
            item = await self._queue.get()
            if item is _ENDED:
                self._queue.put_nowait(_ENDED)  # a later read ends at once too
                return
            if isinstance(item, bytes):
                yield item

    async def result(self) -> InvokeResult:
        """The finished invocation's result (its payload holds what was not streamed)."""
        assert self._task is not None
        return await self._task

    async def abandon(self) -> None:
        """The client went away: let the invocation finish on its own, ignore its output."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
