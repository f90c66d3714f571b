"""SnapStart templates: one initialised environment per SnapStart version, forked on demand.

Publishing a version with ``SnapStart: {"ApplyOn": "PublishedVersions"}`` builds its template
(``prepare``): an environment made exactly like any other (zygote fork, cgroup, namespaces,
root file system, dropped privileges, seccomp) whose runtime runs the function's init and
before-snapshot hooks, reports READY and then waits. Every new environment of the version is
forked from it (``restore``, via ``Launcher.restore_from`` and ``sandbox/snapshot.py``), so
the function's init runs once per version, not once per environment.

Templates live in memory. After a restart, or when a template died, the next cold start of
the version builds it again (the version's init runs once more, logged in a new stream).
Deleting the version or the function destroys its template; the environments restored from
it end with it (they share its PID namespace).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from lamina.errors import InternalError, SandboxError
from lamina.model import FunctionConfig
from lamina.pool.environment import Environment
from lamina.telemetry import lines

if TYPE_CHECKING:
    from lamina.pool.launcher import Launcher

log = logging.getLogger(__name__)


class SnapshotFailedError(InternalError):
    """The version's init (or a before-snapshot hook) failed: no snapshot can be made."""

    def __init__(self, error_type: str, document: bytes) -> None:
        super().__init__(error_type)
        self.error_type = error_type
        self.document = document


class SnapshotCancelledError(InternalError):
    """The server stopped while the snapshot was being made: the version stays Pending (the
    next start settles it)."""


class SnapshotManager:
    def __init__(self, launcher: Launcher) -> None:
        self._launcher = launcher
        self._templates: dict[str, Environment] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    async def prepare(self, config: FunctionConfig) -> None:
        """Build the version's template now; SnapshotFailedError when its init failed.
        Nothing to build for a version whose environments start cold (external extensions)."""
        if not await self._launcher.can_snapshot(config):
            return
        async with self._lock(slot_of(config)):
            await self._build(config)

    async def restore(self, config: FunctionConfig, key: str) -> Environment:
        """A new environment of the version, forked from its template (built if missing)."""
        template = self._templates.get(slot_of(config))
        if template is None or not template.alive:
            template = await self._template(config)
        return await self._launcher.restore_from(template, config, key)

    async def _template(self, config: FunctionConfig) -> Environment:
        slot = slot_of(config)
        async with self._lock(slot):
            template = self._templates.get(slot)
            if template is not None and template.alive:
                return template
            try:
                return await self._build(config)
            except SnapshotFailedError as exc:
                raise SandboxError(
                    f"the snapshot of {slot} cannot be made: its init failed ({exc.error_type})"
                ) from exc

    async def _build(self, config: FunctionConfig) -> Environment:
        slot = slot_of(config)
        old = self._templates.pop(slot, None)
        if old is not None:
            log.warning("the snapshot template of %s is gone; making it again", slot)
            await old.destroy()
        env = await self._launcher.cold_start(config, config.runtime_fingerprint, snapshot=True)
        if env.init_failure is not None:
            await env.destroy()
            raise SnapshotFailedError(*env.init_failure)
        if self._closed:  # the server stopped while this init ran
            await env.destroy()
            raise SnapshotCancelledError("the server is stopping")
        if env.init_duration_ms is not None:
            now_ms = int(time.time() * 1000)
            line = lines.snapshot_init_report(env.init_duration_ms)
            env.log.store.append(env.log.group, env.log.stream, now_ms, line)
        self._templates[slot] = env
        return env

    async def discard(self, slot: str) -> None:
        """Destroy a version's template (its restored environments end with it)."""
        template = self._templates.pop(slot, None)
        self._locks.pop(slot, None)
        if template is not None:
            await template.destroy()

    async def discard_function(self, function_name: str) -> None:
        for slot in [s for s in self._templates if s.startswith(f"{function_name}:")]:
            await self.discard(slot)

    def count(self) -> int:
        return len(self._templates)

    async def close(self) -> None:
        self._closed = True
        for slot in list(self._templates):
            await self.discard(slot)

    def _lock(self, slot: str) -> asyncio.Lock:
        return self._locks.setdefault(slot, asyncio.Lock())


def slot_of(config: FunctionConfig) -> str:
    """The pool's group for a function version's environments (``name:version``)."""
    return f"{config.name}:{config.version}"
