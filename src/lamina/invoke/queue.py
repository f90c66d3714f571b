"""The durable queue of asynchronous invocations: accept, dispatch, retry, finish.

``accept`` returns only once the event is committed to ``queue.db`` (``synchronous=FULL``);
accepts that arrive while a commit is under way are committed together in the next one (group
commit), so durability does not cap throughput at one fsync per event. A dispatcher takes due
events and runs them through the Invoker, like synchronous invocations but with its own policy
(``retries.py``): function errors are retried after AWS's delays, throttles and platform
failures with backoff, until the retry budget or the maximum age runs out; then the outcome goes
to its destination or dead-letter queue (``destinations.py``) and the event is deleted.

Delivery is at least once: an event that was running when the server died is run again after
the restart. Commits of accepted events run on one dedicated thread, the dispatcher's reads and
writes on another, each in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from lamina import arns
from lamina.errors import (
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceException,
    TooManyRequestsException,
)
from lamina.invoke import retries
from lamina.invoke.destinations import Destinations, invocation_record
from lamina.model import LATEST, Execution, FunctionConfig, InvocationType, InvokeRequest
from lamina.store import EventStore, QueuedEvent, Store

if TYPE_CHECKING:
    from collections.abc import Callable

    from lamina.invoke.service import Invoker

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PARALLEL = 64
_IDLE_POLL_S = 1.0
_FORGET_DELAY_S = 0.02


class AsyncQueue:
    def __init__(
        self,
        events: EventStore,
        store: Store,
        invoker: Invoker,
        destinations: Destinations,
        *,
        delay_scale: float = 1.0,
        max_parallel: int = MAX_PARALLEL,
        before_forgetting: Callable[[], None] | None = None,
    ) -> None:
        """``before_forgetting`` runs before finished events are deleted: it makes what they
        left behind (their logs) durable first, so no finished event loses its evidence."""
        self.events = events
        self.store = store
        self.invoker = invoker
        self.destinations = destinations
        self.delay_scale = delay_scale
        self.max_parallel = max_parallel
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lamina-queue")
        self._accepting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lamina-accept")
        self._pending: list[tuple[QueuedEvent, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._throttles: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False
        self._before_forgetting = before_forgetting
        self._finished_ids: list[int] = []
        self._forgetter: asyncio.TimerHandle | None = None
        self._forgetting: set[asyncio.Task[None]] = set()
        self._forgotten_soon: set[int] = set()
        """Finished events being deleted right now: not to be dispatched again meanwhile."""

    # -- accepting -------------------------------------------------------------------------

    async def accept(self, request: InvokeRequest) -> None:
        """Store one event durably; returns once it is committed."""
        now = _now_ms()
        await self.put(
            QueuedEvent(
                request_id=request.request_id,
                function_name=request.function_name,
                qualifier=request.qualifier,
                payload=request.payload or b"{}",
                client_context=request.client_context,
                received_ms=now,
                next_attempt_ms=now,
            )
        )

    async def put(self, event: QueuedEvent) -> None:
        if self._closing:
            raise ServiceException("lamina is shutting down; the event was not accepted.")
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, committed))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.get_running_loop().create_task(self._commit_pending())
        await committed

    async def _commit_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._accepting, self.events.put_many, [event for event, _ in batch]
                )
            except Exception as exc:
                log.exception("could not store %d asynchronous events", len(batch))
                error = ServiceException(f"the event could not be stored: {exc}")
                for _, committed in batch:
                    committed.set_exception(error)
                continue
            for _, committed in batch:
                if not committed.done():
                    committed.set_result(None)
            self._wake.set()

    async def enqueue(self, function_name: str, qualifier: str | None, payload: bytes) -> None:
        """Queue an event produced by lamina itself (a destination record)."""
        now = _now_ms()
        await self.put(
            QueuedEvent(str(uuid.uuid4()), function_name, qualifier, payload, None, now, 0, now)
        )

    # -- dispatching -----------------------------------------------------------------------

    def start(self) -> None:
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch_forever())

    async def _dispatch_forever(self) -> None:
        while not self._closing:
            self._wake.clear()
            free = self.max_parallel - len(self._running)
            due: list[QueuedEvent] = []
            if free > 0:
                busy = [*self._running, *self._finished_ids, *self._forgotten_soon]
                due = await self._db(self.events.due, _now_ms(), free, busy)
                for event in due:
                    self._launch(event)
            if due and len(due) == free:
                continue
            await self._sleep_until_due()

    def _launch(self, event: QueuedEvent) -> None:
        assert event.id is not None
        task = asyncio.get_running_loop().create_task(self._process(event))
        self._running[event.id] = task
        task.add_done_callback(functools.partial(self._finished, event.id))

    def _finished(self, event_id: int, _task: asyncio.Task[None]) -> None:
        self._running.pop(event_id, None)
        self._wake.set()

    async def _sleep_until_due(self) -> None:
        next_due = await self._db(self.events.next_due_ms)
        timeout = _IDLE_POLL_S
        if next_due is not None:
            timeout = min(max((next_due - _now_ms()) / 1000, 0.0), _IDLE_POLL_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _process(self, event: QueuedEvent) -> None:
        try:
            await self._attempt(event)
        except Exception:
            log.exception("asynchronous event %s failed in lamina", event.request_id)
            await self._back_off(event)

    async def _attempt(self, event: QueuedEvent) -> None:
        try:
            config = await self.invoker.resolve(event.function_name, event.qualifier)
        except ResourceNotFoundException:
            log.warning(
                "dropping event %s: function %s is gone", event.request_id, event.function_name
            )
            await self._delete(event)
            return
        except ResourceConflictException:
            await self._back_off(event)
            return
        settings = await self._settings(config, event.qualifier)
        if retries.expired(event.received_ms, _now_ms(), settings, self.delay_scale):
            await self._fail(event, config, settings, "EventAgeExceeded", None)
            return
        if config.reserved_concurrency == 0:
            await self._fail(event, config, settings, "ZeroReservedConcurrency", None)
            return
        try:
            execution = await self.invoker.run(config, self._request(event))
        except (TooManyRequestsException, ServiceException):
            await self._back_off(event)
            return
        self._throttles.pop(event.id or 0, None)
        event.attempts += 1
        if execution.error_type is None:
            await self._succeed(event, config, settings, execution)
        elif event.attempts > settings.maximum_retry_attempts:
            await self._fail(event, config, settings, "RetriesExhausted", execution)
        else:
            delay = retries.function_error_delay_s(event.attempts, self.delay_scale)
            await self._reschedule(event, config, settings, delay, execution)

    # -- outcomes --------------------------------------------------------------------------

    async def _succeed(
        self, event: QueuedEvent, config: FunctionConfig, settings: retries.AsyncSettings,
        execution: Execution,
    ) -> None:  # fmt: skip
        if settings.on_success:
            await self.destinations.deliver(
                settings.on_success, self._record(event, config, "Success", execution)
            )
        await self._delete(event)

    async def _fail(
        self, event: QueuedEvent, config: FunctionConfig, settings: retries.AsyncSettings,
        condition: str, execution: Execution | None,
    ) -> None:  # fmt: skip
        if settings.on_failure:
            record = self._record(event, config, condition, execution)
            await self.destinations.deliver(settings.on_failure, record)
        elif settings.dead_letter:
            message = _error_message(execution) if execution else condition
            await self.destinations.dead_letter(
                settings.dead_letter, event.payload, event.request_id, message
            )
        else:
            log.warning(
                "asynchronous event %s of %s discarded: %s after %d attempts",
                event.request_id, config.name, condition, event.attempts,
            )  # fmt: skip
        await self._delete(event)

    async def _reschedule(
        self, event: QueuedEvent, config: FunctionConfig, settings: retries.AsyncSettings,
        delay_s: float, execution: Execution | None,
    ) -> None:  # fmt: skip
        at = _now_ms() + int(delay_s * 1000)
        if retries.expired(event.received_ms, at, settings, self.delay_scale):
            await self._fail(event, config, settings, "EventAgeExceeded", execution)
            return
        assert event.id is not None
        await self._db(self.events.reschedule, event.id, event.attempts, at)

    async def _back_off(self, event: QueuedEvent) -> None:
        """A throttle or a platform failure: try again later, without counting an attempt."""
        assert event.id is not None
        count = self._throttles[event.id] = self._throttles.get(event.id, 0) + 1
        at = _now_ms() + int(retries.throttle_delay_s(count, self.delay_scale) * 1000)
        await self._db(self.events.reschedule, event.id, event.attempts, at)

    async def _delete(self, event: QueuedEvent) -> None:
        """Forget a finished event, in a batch, once its logs are committed."""
        assert event.id is not None
        self._throttles.pop(event.id, None)
        self._finished_ids.append(event.id)
        if self._forgetter is None:
            self._forgetter = asyncio.get_running_loop().call_later(
                _FORGET_DELAY_S, self._start_forgetting
            )

    def _start_forgetting(self) -> None:
        task = asyncio.get_running_loop().create_task(self._forget_finished())
        self._forgetting.add(task)
        task.add_done_callback(self._forgetting.discard)

    async def _forget_finished(self) -> None:
        self._forgetter = None
        finished, self._finished_ids = self._finished_ids, []
        if not finished:
            return
        self._forgotten_soon.update(finished)
        try:
            if self._before_forgetting is not None:
                self._before_forgetting()
            await self._db(self.events.delete, finished)
        except Exception:
            # They stay stored and run again after a restart: at least once, never lost.
            log.exception("could not forget %d finished events", len(finished))
        finally:
            self._forgotten_soon.difference_update(finished)

    # -- helpers ---------------------------------------------------------------------------

    async def _settings(
        self, config: FunctionConfig, qualifier: str | None
    ) -> retries.AsyncSettings:
        stored = await self.store.get_event_invoke_config(config.name, qualifier or LATEST)
        stored = stored or {}
        destinations = stored.get("DestinationConfig") or {}
        return retries.AsyncSettings(
            maximum_retry_attempts=stored.get(
                "MaximumRetryAttempts", retries.DEFAULT_MAXIMUM_RETRY_ATTEMPTS
            ),
            maximum_event_age_s=stored.get(
                "MaximumEventAgeInSeconds", retries.DEFAULT_MAXIMUM_EVENT_AGE_S
            ),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
            dead_letter=config.dead_letter_target_arn,
        )

    def _request(self, event: QueuedEvent) -> InvokeRequest:
        return InvokeRequest(
            function_name=event.function_name,
            qualifier=event.qualifier,
            payload=event.payload,
            invocation_type=InvocationType.EVENT,
            client_context=event.client_context,
            request_id=event.request_id,
        )

    def _record(
        self, event: QueuedEvent, config: FunctionConfig, condition: str,
        execution: Execution | None,
    ) -> dict[str, Any]:  # fmt: skip
        arn = arns.function_arn(
            self.invoker.region, self.invoker.account, config.name, event.qualifier or LATEST
        )
        return invocation_record(
            request_id=event.request_id,
            function_arn=arn,
            condition=condition,
            approximate_invoke_count=event.attempts,
            request_payload=_json_or_text(event.payload),
            response_payload=_json_or_text(execution.payload) if execution else None,
            function_error="Unhandled" if execution and execution.error_type else None,
            executed_version=config.version,
        )

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def stats(self) -> dict[str, int]:
        return {
            "async_events_running": len(self._running),
            "async_deliveries": self.destinations.delivered,
            "dead_letter_errors": self.destinations.dead_letter_errors,
        }

    async def close(self) -> None:
        """Stop dispatching; let running events finish; what is left runs after a restart."""
        self._closing = True
        self._wake.set()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        if self._forgetter is not None:
            self._forgetter.cancel()
        await asyncio.gather(*self._forgetting, return_exceptions=True)
        await self._forget_finished()
        self._executor.shutdown(wait=True)
        self._accepting.shutdown(wait=True)
        self.events.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return payload.decode(errors="replace")


def _error_message(execution: Execution) -> str:
    doc = _json_or_text(execution.payload)
    if isinstance(doc, dict):
        return str(doc.get("errorMessage", ""))
    return str(doc)
