"""Invoker: the path of every invocation, from a parsed request to its result.

resolve (name, qualifier → configuration) → acquire an environment (warm, or a cold start) →
run → release → shape the result (status, function error, log tail). ``Event`` invocations are
accepted and run in the background; their durable queue comes with the async issue.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import secrets
import time
from typing import TYPE_CHECKING

from lamina import arns
from lamina.errors import (
    ResourceConflictException,
    ResourceNotFoundException,
    SandboxError,
    ServiceException,
    SnapStartNotReadyException,
)
from lamina.invoke.admission import Admission
from lamina.model import (
    LATEST,
    Alias,
    Execution,
    FunctionConfig,
    InvocationType,
    InvokeRequest,
    InvokeResult,
    State,
)
from lamina.pool import EnvironmentPool, Invocation, Launcher, Provisioner
from lamina.pool.environment import Environment
from lamina.store import Store

if TYPE_CHECKING:
    from lamina.invoke.queue import AsyncQueue

log = logging.getLogger(__name__)

TAIL_BYTES = 4096
_PENDING_POLL_S = 0.005
_PENDING_WAIT_S = 10.0
_SNAPSHOT_NOT_READY = (
    "Lambda is initializing your function. It will be ready to invoke once your function "
    "state becomes ACTIVE."
)


class Invoker:
    def __init__(
        self,
        store: Store,
        pool: EnvironmentPool,
        launcher: Launcher,
        admission: Admission,
        region: str,
        account: str,
        provisioner: Provisioner | None = None,
    ) -> None:
        self.store = store
        self.admission = admission
        self.pool = pool
        self.launcher = launcher
        self.provisioner = provisioner or Provisioner(pool, launcher)
        self._provisioned: dict[str, int] = {}
        """Requested provisioned concurrency of every configured target (``name:qualifier``)."""
        self.region = region
        self.account = account
        self.queue: AsyncQueue | None = None
        """Set by the composition root: the durable queue Event invocations go to."""

    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        config = await self.resolve(request.function_name, request.qualifier)
        if request.invocation_type is InvocationType.DRY_RUN:
            return InvokeResult(request.request_id, 204)
        if request.invocation_type is InvocationType.EVENT:
            if self.queue is None:
                raise ServiceException("asynchronous invocation is not available")
            await self.queue.accept(request)
            return InvokeResult(request.request_id, 202)
        execution = await self.run(config, request)
        return self._result(request, config, execution)

    async def resolve(self, name: str, qualifier: str | None) -> FunctionConfig:
        """The configuration that runs for (name, qualifier), once it is ready.

        A qualifier is $LATEST, a version number, or an alias; an alias with routing picks
        its additional version with the configured probability.
        """
        config = await self._lookup(name, qualifier)
        waited = 0.0
        while config.state is State.PENDING and waited < _PENDING_WAIT_S:
            if config.snap_start_optimized:
                raise SnapStartNotReadyException(_SNAPSHOT_NOT_READY)
            await asyncio.sleep(_PENDING_POLL_S)
            waited += _PENDING_POLL_S
            config = await self._lookup(name, config.version)
        if config.state is not State.ACTIVE:
            raise ResourceConflictException(
                "The operation cannot be performed at this time. The function is currently in "
                f"the following state: {config.state.value}"
            )
        return config

    async def _lookup(self, name: str, qualifier: str | None) -> FunctionConfig:
        version = qualifier
        if qualifier is not None and qualifier != LATEST and not qualifier.isdigit():
            alias = await self.store.get_alias(name, qualifier)
            if alias is None:
                raise self._not_found(name, qualifier)
            version = _route(alias)
        if version is None or version == LATEST:
            config = await self.store.get_function(name)
        else:
            config = await self.store.get_version(name, version)
        if config is None:
            raise self._not_found(name, qualifier)
        return config

    def _not_found(self, name: str, qualifier: str | None) -> ResourceNotFoundException:
        arn = arns.function_arn(self.region, self.account, name, qualifier)
        return ResourceNotFoundException(f"Function not found: {arn}")

    async def run(self, config: FunctionConfig, request: InvokeRequest) -> Execution:
        """Run in a ready provisioned environment if there is one; else admit, then run in a
        warm or new on-demand environment; TooManyRequestsException if throttled."""
        key = config.runtime_fingerprint
        slot = _slot(config)
        env = self.pool.take_provisioned(slot, key)
        if env is not None:
            ticket = self.admission.enter_provisioned(config.name)
            try:
                return await self._run_in(env, slot, config, request)
            finally:
                self.admission.leave(ticket)
        ticket = self.admission.enter(config.name)
        try:
            return await self._run_admitted(config, request, slot, key)
        finally:
            self.admission.leave(ticket)

    async def _run_admitted(
        self, config: FunctionConfig, request: InvokeRequest, slot: str, key: str
    ) -> Execution:
        try:
            env = await self.pool.acquire(
                slot, key, lambda: self.launcher.start(config, key), config.memory_mb
            )
        except SandboxError as exc:
            log.error("cannot start an environment for %s: %s", config.name, exc)
            raise ServiceException(
                f"Lambda could not start an execution environment: {exc}"
            ) from exc
        return await self._run_in(env, slot, config, request)

    async def _run_in(
        self, env: Environment, slot: str, config: FunctionConfig, request: InvokeRequest
    ) -> Execution:
        try:
            if request.stream is not None:
                request.stream.begin(config.version)
            return await env.invoke(self._invocation(config, request))
        finally:
            await self.pool.release(slot, env)

    # -- provisioned concurrency -------------------------------------------------------------

    def provision(self, target: str, config: FunctionConfig, requested: int) -> None:
        """Keep ``requested`` environments of ``config`` (a published version) ready for
        ``target`` (``name:version`` or ``name:alias``), counted against the function's
        concurrency."""
        self._provisioned[target] = requested
        self._count_provisioned(config.name)
        self.provisioner.set(target, config, requested)

    def unprovision(self, target: str) -> None:
        if self._provisioned.pop(target, None) is None:
            return
        self.provisioner.remove(target)
        self._count_provisioned(target.split(":", 1)[0])

    def provisioned_total(self, function_name: str, *, without: str | None = None) -> int:
        """The function's provisioned concurrency over its targets (but ``without``)."""
        prefix = f"{function_name}:"
        return sum(n for t, n in self._provisioned.items() if t.startswith(prefix) and t != without)

    def _count_provisioned(self, function_name: str) -> None:
        self.admission.set_provisioned(function_name, self.provisioned_total(function_name))

    async def retire_environments(self, function_name: str, keep: FunctionConfig | None) -> None:
        """Stop reusing environments of an older configuration of $LATEST (``keep`` is the new
        one), or, when ``keep`` is None, every environment of the function."""
        if keep is not None:
            await self.pool.retire(_slot(keep), keep.runtime_fingerprint)
            return
        for target in [t for t in self._provisioned if t.split(":", 1)[0] == function_name]:
            self.unprovision(target)
        for slot in self.pool.slots(f"{function_name}:"):
            await self.pool.retire(slot, None)
        if self.launcher.snapshots is not None:
            await self.launcher.snapshots.discard_function(function_name)

    async def retire_version(self, function_name: str, version: str) -> None:
        self.unprovision(f"{function_name}:{version}")
        await self.pool.retire(f"{function_name}:{version}", None)
        if self.launcher.snapshots is not None:
            await self.launcher.snapshots.discard(f"{function_name}:{version}")

    async def prepare_snapshot(self, config: FunctionConfig) -> None:
        """Make a SnapStart version's snapshot (its init runs now); SnapshotFailedError when
        the init failed. Nothing to do where the sandbox cannot restore from snapshots."""
        if self.launcher.snapshots is not None:
            await self.launcher.snapshots.prepare(config)

    def stats(self) -> dict[str, int]:
        """Counters an operator watches (served as JSON at ``/_lamina/stats``)."""
        doc = {
            **self.pool.stats(),
            "running_invocations": self.admission.running(),
        }
        if self.launcher.snapshots is not None:
            doc["snapshot_templates"] = self.launcher.snapshots.count()
        if self.queue is not None:
            doc.update(self.queue.stats())
        return doc

    def has_environments(self, function_name: str) -> bool:
        return bool(self.pool.slots(f"{function_name}:"))

    async def close(self) -> None:
        """Stop every environment (the queue was closed first)."""
        await self.provisioner.close()
        await self.pool.close()
        if self.launcher.snapshots is not None:
            await self.launcher.snapshots.close()

    def _invocation(self, config: FunctionConfig, request: InvokeRequest) -> Invocation:
        return Invocation(
            request_id=request.request_id,
            version=config.version,
            invoked_function_arn=arns.function_arn(
                self.region, self.account, config.name, request.qualifier
            ),
            payload=request.payload or b"{}",
            timeout_s=float(config.timeout_s),
            client_context=request.client_context,
            trace_id=request.trace_id or new_trace_id(),
            stream=request.stream,
        )

    def _result(
        self, request: InvokeRequest, config: FunctionConfig, execution: Execution
    ) -> InvokeResult:
        tail = None
        if request.tail_log:
            text = "".join(line + "\n" for line in execution.log).encode()
            tail = base64.b64encode(text[-TAIL_BYTES:])
        return InvokeResult(
            request_id=request.request_id,
            status=200,
            payload=execution.payload,
            function_error="Unhandled" if execution.error_type else None,
            executed_version=config.version,
            log_tail=tail,
        )


def _slot(config: FunctionConfig) -> str:
    """The pool's group for a function version's environments."""
    return f"{config.name}:{config.version}"


def _route(alias: Alias) -> str:
    """The version an invocation through ``alias`` runs: its additional version with the
    routing weight's probability, else its primary version."""
    for version, weight in (alias.routing or {}).items():
        if random.random() < weight:
            return version
    return alias.function_version


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda hands one to every invocation that came without one
    (``_X_AMZN_TRACE_ID``, ``Lambda-Runtime-Trace-Id``)."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"
