"""Provisioned concurrency: keep N initialised environments of a function version ready.

A *target* is one provisioned concurrency configuration (``name:3`` or ``name:live``); it names
the function version whose environments it keeps (an alias's version). The provisioner starts
the missing environments in the background as soon as a target is set (their init runs then,
not at the first invocation, with ``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``),
reports IN_PROGRESS until all of them are up and READY after, and FAILED with AWS's reason when
one cannot initialise. A check every ``check_interval_s`` replaces provisioned environments
that died. Removing a target gives its environments back (docs/pools.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from lamina.errors import SandboxError, TooManyRequestsException
from lamina.model import FunctionConfig
from lamina.pool.launcher import PROVISIONED, Launcher
from lamina.pool.pool import EnvironmentPool

log = logging.getLogger(__name__)

IN_PROGRESS, READY, FAILED = "IN_PROGRESS", "READY", "FAILED"
_MAX_ROUNDS = 5
"""Rounds of starts one fill may take when environments keep dying as soon as they are up."""
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"
"""AWS's StatusReason when the function's init fails in a provisioned environment."""


@dataclass(frozen=True)
class ProvisionedState:
    """What Get/ListProvisionedConcurrencyConfig(s) report besides the stored request."""

    status: str
    reason: str | None
    allocated: int
    available: int


class _Target:
    __slots__ = ("config", "name", "reason", "requested", "status")

    def __init__(self, name: str, config: FunctionConfig, requested: int) -> None:
        self.name = name
        self.config = config
        self.requested = requested
        self.status = IN_PROGRESS
        self.reason: str | None = None

    @property
    def slot(self) -> str:
        return f"{self.config.name}:{self.config.version}"


class _StartFailedError(Exception):
    """A provisioned environment could not be made ready (its reason is the message)."""


class Provisioner:
    def __init__(
        self, pool: EnvironmentPool, launcher: Launcher, check_interval_s: float = 0.5
    ) -> None:
        self.pool = pool
        self.launcher = launcher
        self.check_interval_s = check_interval_s
        self._targets: dict[str, _Target] = {}
        self._by_slot: dict[str, set[str]] = {}
        self._filling: dict[str, asyncio.Task[None]] = {}
        """The fill task of each slot being brought up to its targets' count."""
        self._checker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._checker = asyncio.get_running_loop().create_task(self._check_forever())

    def set(self, target: str, config: FunctionConfig, requested: int) -> None:
        """Keep ``requested`` environments of ``config``'s version ready for ``target``."""
        old = self._targets.get(target)
        if old is not None and old.slot != f"{config.name}:{config.version}":
            self.remove(target)  # an alias that now names another version
        entry = self._targets[target] = _Target(target, config, requested)
        self._by_slot.setdefault(entry.slot, set()).add(target)
        desired = self.desired(entry.slot)
        if len(self.pool.provisioned(entry.slot)) >= desired:
            self.pool.unprovision(entry.slot, desired)
            entry.status = READY
        self._fill_soon(entry.slot)

    def remove(self, target: str) -> None:
        """Stop keeping the target's environments: idle ones are destroyed, busy ones end as
        ordinary on-demand environments. Unknown targets are ignored."""
        entry = self._targets.pop(target, None)
        if entry is None:
            return
        names = self._by_slot.get(entry.slot, set())
        names.discard(target)
        if not names:
            self._by_slot.pop(entry.slot, None)
        self.pool.unprovision(entry.slot, self.desired(entry.slot))

    def remove_function(self, function_name: str) -> None:
        for target in [t for t in self._targets if t.split(":", 1)[0] == function_name]:
            self.remove(target)

    def remove_slot(self, slot: str) -> None:
        for target in list(self._by_slot.get(slot, ())):
            self.remove(target)

    def state(self, target: str) -> ProvisionedState | None:
        entry = self._targets.get(target)
        if entry is None:
            return None
        live = len(self.pool.provisioned(entry.slot))
        allocated = min(live, entry.requested)
        return ProvisionedState(entry.status, entry.reason, allocated, allocated)

    def desired(self, slot: str) -> int:
        return sum(self._targets[t].requested for t in self._by_slot.get(slot, ()))

    async def close(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        tasks = list(self._filling.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- filling ---------------------------------------------------------------------------

    def _fill_soon(self, slot: str) -> None:
        if slot in self._filling:
            return
        task = asyncio.get_running_loop().create_task(self._fill(slot))
        self._filling[slot] = task
        task.add_done_callback(lambda _: self._filling.pop(slot, None))

    async def _fill(self, slot: str) -> None:
        """Start the slot's missing environments, then report READY or FAILED."""
        for _ in range(_MAX_ROUNDS):
            names = self._by_slot.get(slot)
            if not names:
                return
            entry = self._targets[next(iter(names))]
            missing = self.desired(slot) - len(self.pool.provisioned(slot))
            if missing <= 0:
                self._mark(slot, READY, None)
                return
            outcomes = await asyncio.gather(
                *(self._start_one(slot, entry.config) for _ in range(missing)),
                return_exceptions=True,
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                reason = str(failures[0]) if isinstance(failures[0], _StartFailedError) else None
                log.warning("provisioning %s failed: %s", slot, failures[0])
                self._mark(slot, FAILED, reason or "lamina could not start an environment")
                return
        self._mark(slot, FAILED, "lamina: the environments exited right after their init")

    async def _start_one(self, slot: str, config: FunctionConfig) -> None:
        key = config.runtime_fingerprint
        try:
            env = await self.pool.start_provisioned(
                slot, key, lambda: self.launcher.start(config, key, PROVISIONED), config.memory_mb
            )
        except TooManyRequestsException as exc:
            raise _StartFailedError(
                f"lamina: the node's memory budget ({self.pool.memory_budget_mb} MB) holds no "
                f"room for another {config.memory_mb} MB environment"
            ) from exc
        except SandboxError as exc:
            raise _StartFailedError(f"lamina could not start an environment: {exc}") from exc
        env.report_init_duration = False
        if env.init_error is not None or not env.alive:
            self.pool.discard(env)
            raise _StartFailedError(INIT_FAILURE)
        if len(self.pool.provisioned(slot)) > self.desired(slot):
            self.pool.unprovision(slot, self.desired(slot))  # the target shrank meanwhile

    def _mark(self, slot: str, status: str, reason: str | None) -> None:
        for target in self._by_slot.get(slot, ()):
            entry = self._targets[target]
            entry.status, entry.reason = status, reason

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval_s)
            self.check()

    def check(self) -> None:
        """Replace provisioned environments that died (slots that failed are left alone)."""
        for slot, names in self._by_slot.items():
            if slot in self._filling or not names:
                continue
            if any(self._targets[t].status == FAILED for t in names):
                continue
            if len(self.pool.provisioned(slot)) < self.desired(slot):
                self._fill_soon(slot)
