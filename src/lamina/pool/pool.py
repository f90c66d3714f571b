"""Warm execution environments of every function on the node: reuse, starts, keep-alive, memory.

Environments are grouped by *slot*: one function version (``name:$LATEST``, ``name:3``), whose
current configuration is identified by a key; environments of an older key are not reused.
An environment serves one invocation at a time; concurrent invocations of one function get
separate environments.

Policy (docs/pools.md):

- **Reuse**: an invocation takes the slot's most recently used idle environment (a hot one keeps
  its caches warm), a provisioned one first.
- **Keep-alive**: an on-demand environment idle for ``idle_timeout_s`` is destroyed by the reaper.
  Provisioned environments are never reaped; the provisioner replaces those that die.
- **Memory budget**: every live environment counts its MemorySize against ``memory_budget_mb``.
  A start that would exceed it first evicts the node's least recently used idle on-demand
  environments (of any function); if that is not enough, the invocation is throttled (429).
  Provisioned and busy environments are never evicted.
- **Drain**: when a function changes or is deleted, its environments are retired: idle ones at
  once, busy ones as soon as their invocation ends.

Cold starts are CPU-bound, so only ``max_concurrent_starts`` run at once; a request waiting for
a start slot takes an environment that became idle meanwhile instead of starting another. A start
holds its slot for at most ``start_slot_s``, so functions with a slow init cannot hold up
everyone else's cold starts.

Every operation on the invoke path is O(1): idle environments sit in insertion-ordered dicts
(per slot, most recent last; node-wide, least recent first), so taking, returning, reaping one
and evicting one never scans.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from lamina.errors import SandboxError, TooManyRequestsException
from lamina.pool.environment import Environment

log = logging.getLogger(__name__)

CAPACITY_LIMIT = "ConcurrentInvocationLimitExceeded"
"""The throttle reason when the node's memory budget holds nothing more to evict."""

Start = Callable[[], Awaitable[Environment]]


class _Slot:
    """The environments of one function version."""

    __slots__ = ("idle", "key", "live", "name", "provisioned", "ready")

    def __init__(self, name: str) -> None:
        self.name = name
        self.key: str | None = None
        self.idle: dict[Environment, None] = {}
        """Idle on-demand environments, most recently used last."""
        self.ready: dict[Environment, None] = {}
        """Idle provisioned environments, most recently used last."""
        self.live: set[Environment] = set()
        self.provisioned: set[Environment] = set()
        """Live provisioned environments, busy or idle."""


class EnvironmentPool:
    def __init__(
        self,
        idle_timeout_s: float,
        max_concurrent_starts: int = 4,
        start_slot_s: float = 0.25,
        freeze_after_s: float = 1.0,
        memory_budget_mb: int | None = None,
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.freeze_after_s = freeze_after_s
        self.start_slot_s = start_slot_s
        self.memory_budget_mb = memory_budget_mb
        self.memory_used_mb = 0
        """MemorySize of every live environment and of every start under way."""
        self.evictions = 0
        self._start_slots = asyncio.Semaphore(max_concurrent_starts)
        self._destroying: set[asyncio.Task[None]] = set()
        self._starting: set[asyncio.Future[Environment]] = set()
        self._slots: dict[str, _Slot] = {}
        self._slot_of: dict[Environment, _Slot] = {}
        """Every live environment the pool counts, with its slot."""
        self._lru: dict[Environment, None] = {}
        """Idle on-demand environments of every slot, least recently used first."""
        self._reaper: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    # -- the invoke path -------------------------------------------------------------------

    def take_provisioned(self, slot: str, key: str) -> Environment | None:
        """An idle provisioned environment of the slot, if one is ready."""
        group = self._slots.get(slot)
        if group is None or not group.ready:
            return None
        while group.ready:
            env, _ = group.ready.popitem()
            if env.alive and env.key == key and self._thawed(env):
                env.busy = True
                return env
            self._discard(env)
            self._destroy_later(env)
        return None

    async def acquire(self, slot: str, key: str, start: Start, memory_mb: int) -> Environment:
        """A warm on-demand environment for ``key`` if one is idle, else a new one from
        ``start``; TooManyRequestsException if the memory budget cannot make room for it."""
        group = self._slots.get(slot) or self._slot(slot)
        group.key = key
        env = self._take_idle(group, key)
        if env is not None:
            return env
        starting: asyncio.Future[Environment] | None = None
        try:
            async with self._start_slots:
                env = self._take_idle(group, key)
                if env is not None:
                    return env
                starting = self._start_soon(group, memory_mb, start)
                await asyncio.wait({starting}, timeout=self.start_slot_s)
            env = await asyncio.shield(starting)
        except asyncio.CancelledError:
            if starting is not None:  # nobody waits for it now: keep it warm for the next one
                starting.add_done_callback(lambda task: self._adopt(group, task))
            raise
        env.busy = True
        return env

    async def release(self, slot: str, env: Environment) -> None:
        """Return an environment after its invocation; a dead or retired one is destroyed.

        One whose extensions are still in the invocation's post-runtime phase stays busy
        until they are done (the caller has its response already)."""
        if env.settling is not None and not env.settling.done():
            env.settling.add_done_callback(lambda _: self._release_later(slot, env))
            return
        env.busy = False
        group = self._slot_of.get(env)
        if group is not None and env.alive and group.key == env.key and not self._closing:
            if env in group.provisioned:
                group.ready[env] = None
            else:
                group.idle[env] = None
                self._lru[env] = None
            env.freeze_later(self.freeze_after_s)
            return
        self._discard(env)
        await env.destroy()

    def _take_idle(self, group: _Slot, key: str) -> Environment | None:
        while group.idle:
            env, _ = group.idle.popitem()
            self._lru.pop(env, None)
            if env.alive and env.key == key and self._thawed(env):
                env.busy = True
                return env
            self._discard(env)
            self._destroy_later(env)
        return None

    def _thawed(self, env: Environment) -> bool:
        try:
            env.thaw()
        except OSError as exc:
            log.warning("cannot thaw environment %s, replacing it: %s", env.id, exc)
            return False
        return True

    # -- starting environments -------------------------------------------------------------

    def _start_soon(
        self, group: _Slot, memory_mb: int, start: Start
    ) -> asyncio.Future[Environment]:
        """The start as a task of its own (it finishes even if its caller goes away); close()
        waits for it."""
        starting = asyncio.ensure_future(self._start(group, memory_mb, start))
        self._starting.add(starting)
        starting.add_done_callback(self._starting.discard)
        return starting

    async def _start(self, group: _Slot, memory_mb: int, start: Start) -> Environment:
        """Make room for ``memory_mb`` (evicting idle environments), then start one."""
        self._make_room(memory_mb)
        self.memory_used_mb += memory_mb
        try:
            env = await start()
        except BaseException:
            self.memory_used_mb -= memory_mb
            raise
        if self._closing:
            self.memory_used_mb -= memory_mb
            await env.destroy()
            raise SandboxError("the server is stopping")
        self.memory_used_mb += env.memory_mb - memory_mb
        group.live.add(env)
        self._slot_of[env] = group
        return env

    def _make_room(self, memory_mb: int) -> None:
        budget = self.memory_budget_mb
        if budget is None:
            return
        while self.memory_used_mb + memory_mb > budget:
            if not self._lru:
                raise TooManyRequestsException("Rate Exceeded.", Reason=CAPACITY_LIMIT)
            victim = next(iter(self._lru))
            log.debug("evicting idle environment %s for memory", victim.id)
            self.evictions += 1
            self._discard(victim)
            self._destroy_later(victim)

    def _adopt(self, group: _Slot, task: asyncio.Future[Environment]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        env = task.result()
        if env.alive and group.key == env.key and not self._closing:
            group.idle[env] = None
            self._lru[env] = None
        else:
            self._discard(env)
            self._destroy_later(env)

    # -- provisioned environments ----------------------------------------------------------

    async def start_provisioned(
        self, slot: str, key: str, start: Start, memory_mb: int
    ) -> Environment:
        """Start an environment that belongs to the slot's provisioned concurrency: it is
        used before on-demand ones, never reaped and never evicted. The caller checks its
        init (a failed one is the caller's to destroy with ``discard``)."""
        group = self._slots.get(slot) or self._slot(slot)
        group.key = key
        async with self._start_slots:
            starting = self._start_soon(group, memory_mb, start)
            await asyncio.wait({starting}, timeout=self.start_slot_s)
        env = await asyncio.shield(starting)
        group.provisioned.add(env)
        if env.alive and not self._closing:
            group.ready[env] = None
            env.freeze_later(self.freeze_after_s)
        return env

    def provisioned(self, slot: str) -> list[Environment]:
        """The slot's live provisioned environments (dead ones are dropped on the way)."""
        group = self._slots.get(slot)
        if group is None:
            return []
        for env in [e for e in group.provisioned if not e.alive and not e.busy]:
            self._discard(env)
            self._destroy_later(env)
        return list(group.provisioned)

    def unprovision(self, slot: str, keep: int) -> None:
        """Shrink the slot's provisioned environments to ``keep``: idle ones are destroyed,
        then busy ones become on-demand environments (kept warm after their invocation)."""
        group = self._slots.get(slot)
        if group is None:
            return
        while len(group.provisioned) > keep and group.ready:
            env, _ = group.ready.popitem()
            self._discard(env)
            self._destroy_later(env)
        for env in list(group.provisioned)[: max(0, len(group.provisioned) - keep)]:
            group.provisioned.discard(env)

    def discard(self, env: Environment) -> None:
        """Forget an environment and destroy it in the background."""
        self._discard(env)
        self._destroy_later(env)

    # -- draining, reaping, closing ----------------------------------------------------------

    async def retire(self, slot: str, keep_key: str | None = None) -> None:
        """Destroy the slot's idle environments whose key is not ``keep_key``.

        Busy ones are destroyed when released, since their key is no longer current.
        """
        group = self._slots.get(slot)
        if group is None:
            return
        group.key = keep_key
        doomed = [env for env in group.live if not env.busy and env.key != keep_key]
        for env in doomed:
            self._discard(env)
        await asyncio.gather(*(env.destroy() for env in doomed))

    def count(self, slot: str | None = None) -> int:
        if slot is not None:
            group = self._slots.get(slot)
            return len(group.live) if group is not None else 0
        return len(self._slot_of)

    def slots(self, prefix: str) -> list[str]:
        """The slots with live environments whose name starts with ``prefix``."""
        return [name for name, g in self._slots.items() if g.live and name.startswith(prefix)]

    def stats(self) -> dict[str, int]:
        idle = len(self._lru) + sum(len(g.ready) for g in self._slots.values())
        return {
            "environments": len(self._slot_of),
            "idle_environments": idle,
            "provisioned_environments": sum(len(g.provisioned) for g in self._slots.values()),
            "memory_used_mb": self.memory_used_mb,
            "memory_budget_mb": self.memory_budget_mb or 0,
            "evictions": self.evictions,
        }

    async def close(self) -> None:
        """Destroy every environment; busy ones are destroyed when released."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        if self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)
        everything = list(self._slot_of)
        for env in everything:
            self._discard(env)
        await asyncio.gather(*(env.destroy() for env in everything), return_exceptions=True)
        if self._destroying:
            await asyncio.gather(*self._destroying, return_exceptions=True)

    def _slot(self, name: str) -> _Slot:
        group = self._slots[name] = _Slot(name)
        return group

    def _discard(self, env: Environment) -> None:
        """Forget an environment everywhere and give its memory back. Safe to call twice."""
        group = self._slot_of.pop(env, None)
        if group is None:
            return
        self.memory_used_mb -= env.memory_mb
        self._lru.pop(env, None)
        group.idle.pop(env, None)
        group.ready.pop(env, None)
        group.live.discard(env)
        group.provisioned.discard(env)
        if not group.live and group.key is None and self._slots.get(group.name) is group:
            del self._slots[group.name]

    def _release_later(self, slot: str, env: Environment) -> None:
        task = asyncio.get_running_loop().create_task(self.release(slot, env))
        self._destroying.add(task)
        task.add_done_callback(self._destroying.discard)

    def _destroy_later(self, env: Environment) -> None:
        task = asyncio.get_running_loop().create_task(env.destroy())
        self._destroying.add(task)
        task.add_done_callback(self._destroying.discard)

    async def _reap_forever(self) -> None:
        interval = min(max(self.idle_timeout_s / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            await self.reap()

    async def reap(self) -> None:
        """Destroy on-demand environments idle for longer than the keep-alive, oldest first;
        stops at the first one still within it."""
        deadline = time.monotonic() - self.idle_timeout_s
        doomed: list[Environment] = []
        while self._lru:
            env = next(iter(self._lru))
            if env.alive and env.last_used >= deadline:
                break
            self._discard(env)
            doomed.append(env)
        await asyncio.gather(*(env.destroy() for env in doomed), return_exceptions=True)
