"""Warm execution environments, kept per function configuration and reused most-recent-first.

Environments are grouped by *slot*: one function version (``name:$LATEST``, ``name:3``), whose
current configuration is identified by a key; environments of an older key are not reused.

An environment serves one invocation at a time; concurrent invocations of one function get
separate environments. Idle environments are kept for ``idle_timeout_s`` after their last use
and then destroyed by the reaper. When a function changes or is deleted, its environments are
retired: idle ones at once, busy ones as soon as their invocation ends.

Cold starts are CPU-bound, so only ``max_concurrent_starts`` run at once; a request waiting for
a start slot takes an environment that became idle meanwhile instead of starting another. A start
holds its slot for at most ``start_slot_s``, so functions with a slow init (long imports, sleeps
at module level) cannot hold up everyone else's cold starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from lamina.pool.environment import Environment

log = logging.getLogger(__name__)


class EnvironmentPool:
    def __init__(
        self,
        idle_timeout_s: float,
        max_concurrent_starts: int = 4,
        start_slot_s: float = 0.25,
        freeze_after_s: float = 1.0,
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.freeze_after_s = freeze_after_s
        self.start_slot_s = start_slot_s
        self._start_slots = asyncio.Semaphore(max_concurrent_starts)
        self._destroying: set[asyncio.Task[None]] = set()
        self._idle: dict[str, list[Environment]] = {}
        self._live: dict[str, set[Environment]] = {}
        """Every live environment by function name, busy or idle."""
        self._current_key: dict[str, str] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def acquire(
        self, slot: str, key: str, start: Callable[[], Awaitable[Environment]]
    ) -> Environment:
        """A warm environment for ``key`` if one is idle, else a new one from ``start``."""
        self._current_key[slot] = key
        env = self._take_idle(slot, key)
        if env is not None:
            return env
        starting: asyncio.Future[Environment] | None = None
        try:
            async with self._start_slots:
                env = self._take_idle(slot, key)
                if env is not None:
                    return env
                starting = asyncio.ensure_future(start())
                await asyncio.wait({starting}, timeout=self.start_slot_s)
            env = await asyncio.shield(starting)
        except asyncio.CancelledError:
            if starting is not None:  # nobody waits for it now: keep it warm for the next one
                starting.add_done_callback(lambda task: self._adopt(slot, task))
            raise
        env.busy = True
        self._live.setdefault(slot, set()).add(env)
        return env

    def _take_idle(self, slot: str, key: str) -> Environment | None:
        stack = self._idle.get(key)
        while stack:
            env = stack.pop()
            if env.alive and self._thawed(env):
                env.busy = True
                return env
            self._forget(slot, env)
            self._destroy_later(env)
        return None

    def _thawed(self, env: Environment) -> bool:
        try:
            env.thaw()
        except OSError as exc:
            log.warning("cannot thaw environment %s, replacing it: %s", env.id, exc)
            return False
        return True

    def _adopt(self, slot: str, task: asyncio.Future[Environment]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        env = task.result()
        self._live.setdefault(slot, set()).add(env)
        if env.alive and self._current_key.get(slot) == env.key and not self._closing:
            self._idle.setdefault(env.key, []).append(env)
        else:
            self._forget(slot, env)
            self._destroy_later(env)

    def _release_later(self, slot: str, env: Environment) -> None:
        task = asyncio.get_running_loop().create_task(self.release(slot, env))
        self._destroying.add(task)
        task.add_done_callback(self._destroying.discard)

    def _destroy_later(self, env: Environment) -> None:
        task = asyncio.get_running_loop().create_task(env.destroy())
        self._destroying.add(task)
        task.add_done_callback(self._destroying.discard)

    async def release(self, slot: str, env: Environment) -> None:
        """Return an environment after its invocation; a dead or retired one is destroyed.

        One whose extensions are still in the invocation's post-runtime phase stays busy
        until they are done (the caller has its response already)."""
        if env.settling is not None and not env.settling.done():
            env.settling.add_done_callback(lambda _: self._release_later(slot, env))
            return
        env.busy = False
        current = self._current_key.get(slot) == env.key
        if env.alive and current and not self._closing:
            self._idle.setdefault(env.key, []).append(env)
            env.freeze_later(self.freeze_after_s)
            return
        self._forget(slot, env)
        await env.destroy()

    async def retire(self, slot: str, keep_key: str | None = None) -> None:
        """Destroy the function's idle environments whose key is not ``keep_key``.

        Busy ones are destroyed when released, since their key is no longer current.
        """
        if keep_key is None:
            self._current_key.pop(slot, None)
        else:
            self._current_key[slot] = keep_key
        doomed = [
            env for env in self._live.get(slot, set()) if not env.busy and env.key != keep_key
        ]
        for env in doomed:
            self._forget(slot, env)
        await asyncio.gather(*(env.destroy() for env in doomed))

    def count(self, slot: str | None = None) -> int:
        if slot is not None:
            return len(self._live.get(slot, ()))
        return sum(len(envs) for envs in self._live.values())

    def slots(self, prefix: str) -> list[str]:
        """The slots with live environments whose name starts with ``prefix``."""
        return [slot for slot, envs in self._live.items() if envs and slot.startswith(prefix)]

    async def close(self) -> None:
        """Destroy every environment; busy ones are destroyed when released."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        everything = [env for envs in self._live.values() for env in envs]
        self._idle.clear()
        self._live.clear()
        await asyncio.gather(*(env.destroy() for env in everything), return_exceptions=True)
        if self._destroying:
            await asyncio.gather(*self._destroying, return_exceptions=True)

    def _forget(self, slot: str, env: Environment) -> None:
        self._live.get(slot, set()).discard(env)
        stack = self._idle.get(env.key)
        if stack and env in stack:
            stack.remove(env)

    async def _reap_forever(self) -> None:
        interval = min(max(self.idle_timeout_s / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            await self.reap()

    async def reap(self) -> None:
        """Destroy environments idle for longer than the keep-alive, and dead ones."""
        deadline = time.monotonic() - self.idle_timeout_s
        doomed: list[tuple[str, Environment]] = []
        for name, envs in self._live.items():
            doomed.extend(
                (name, env)
                for env in envs
                if not env.busy and (not env.alive or env.last_used < deadline)
            )
        for name, env in doomed:
            self._forget(name, env)
        await asyncio.gather(*(env.destroy() for _, env in doomed), return_exceptions=True)
