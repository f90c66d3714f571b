"""Published versions: PublishVersion, ListVersionsByFunction, and deleting a version.

A version is an immutable copy of $LATEST's code and configuration, numbered from 1, numbers
never reused. Publishing when nothing changed since the last version returns that version
again, as AWS does (a change of configuration alone, even of the description, is a change).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lamina.control.functions import FunctionRegistry, FunctionView, active, config_tags
from lamina.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    SandboxError,
)
from lamina.model import LATEST, FunctionConfig, State, UpdateStatus
from lamina.pool import SnapshotCancelledError, SnapshotFailedError
from lamina.store import DuplicateError, Store

log = logging.getLogger(__name__)

MAX_LIST_ITEMS = 50


class VersionControl:
    def __init__(self, registry: FunctionRegistry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self._settling: set[asyncio.Task[None]] = set()

    async def publish(self, name_param: str, body: Mapping[str, Any]) -> FunctionView:
        name = self.registry.function_only(name_param)
        latest = await self.registry.existing(name)
        if latest.state is State.PENDING or latest.last_update_status is UpdateStatus.IN_PROGRESS:
            raise ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {self.registry.arn(name)}"
            )
        _check_preconditions(latest, body)
        return await self.publish_from(latest, body.get("Description"))

    async def publish_from(self, latest: FunctionConfig, description: object) -> FunctionView:
        """Publish ``latest`` as the next version, or return the last one if nothing changed."""
        name = latest.name
        fingerprint = latest.publish_fingerprint()
        if latest.last_published_version:
            last = await self.store.get_version(name, str(latest.last_published_version))
            if last is not None and last.source_fingerprint == fingerprint:
                return FunctionView(last, self.registry.arn(name, last.version))
        number = latest.last_published_version + 1
        version = replace(
            latest,
            version=str(number),
            description=description if isinstance(description, str) else latest.description,
            revision_id=str(uuid.uuid4()),
            state=State.PENDING,
            state_reason="The function is being created.",
            state_reason_code="Creating",
            last_update_status=None,
            last_update_status_reason=None,
            last_update_status_reason_code=None,
            tags=None,
            reserved_concurrency=None,
            last_published_version=0,
            source_fingerprint=fingerprint,
        )
        try:
            await self.store.insert_version(version)
        except DuplicateError as exc:
            raise ResourceConflictException(
                f"Version {number} of {self.registry.arn(name)} is being published."
            ) from exc
        await self.registry.save_quietly(
            replace(latest, last_published_version=number), latest, new_revision=False
        )
        self._settle_soon(version)
        return FunctionView(version, self.registry.arn(name, version.version))

    async def list(
        self, name_param: str, marker: str | None, max_items: int | None
    ) -> tuple[list[FunctionView], str | None]:
        """$LATEST first, then the versions oldest first (Terraform reads the last one)."""
        name = self.registry.function_only(name_param)
        latest = await self.registry.existing(name)
        everything = [FunctionView(latest, self.registry.arn(name, LATEST), config_tags(latest))]
        everything += [
            FunctionView(v, self.registry.arn(name, v.version))
            for v in await self.store.list_versions(name)
        ]
        start = int(marker) if marker and marker.isdigit() else 0
        limit = min(max_items or MAX_LIST_ITEMS, MAX_LIST_ITEMS)
        page = everything[start : start + limit]
        more = start + limit < len(everything)
        return page, str(start + limit) if more else None

    def resume(self, pending: Sequence[FunctionConfig]) -> None:
        """Make the snapshots of SnapStart versions a stop or crash left Pending."""
        for version in pending:
            self._settle_soon(version)

    async def close(self) -> None:
        """Stop making snapshots (a long init must not hold up a stop): versions still
        Pending are settled at the next start."""
        for task in self._settling:
            task.cancel()
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    def _settle_soon(self, version: FunctionConfig) -> None:
        task = asyncio.get_running_loop().create_task(self._settle(version))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, version: FunctionConfig) -> None:
        """Active at once; a SnapStart version first makes its snapshot (its init runs now),
        and is Failed, with the reason, when that init fails."""
        if version.snap_start_optimized:
            try:
                await self.registry.invoker.prepare_snapshot(version)
            except SnapshotCancelledError:
                return
            except SnapshotFailedError as exc:
                code = "FunctionError.InitTimeout" if exc.error_type == "Sandbox.Timedout" else None
                await self.store.replace_version(_failed(version, exc.error_type, code))
                return
            except SandboxError as exc:
                log.error("cannot make the snapshot of %s: %s", version.version, exc)
                await self.store.replace_version(
                    _failed(version, "Runtime.Unknown", code="InternalError")
                )
                return
            if await self.store.get_version(version.name, version.version) is None:
                await self.registry.invoker.retire_version(version.name, version.version)
                return  # deleted while its snapshot was being made
        await self.store.replace_version(active(version))


def _failed(version: FunctionConfig, error_type: str, code: str | None = None) -> FunctionConfig:
    """A SnapStart version whose snapshot could not be made."""
    return replace(
        version,
        state=State.FAILED,
        state_reason=f"Lambda could not initialize the function for a snapshot: {error_type}",
        state_reason_code=code or "FunctionError",
        last_update_status=UpdateStatus.FAILED,
    )


def _check_preconditions(latest: FunctionConfig, body: Mapping[str, Any]) -> None:
    current = base64.b64encode(bytes.fromhex(latest.code_sha256)).decode()
    expected = body.get("CodeSha256")
    if expected is not None and expected != current:
        raise InvalidParameterValueException(
            f"CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST "
            f"({current}). Please try again with the CodeSHA256 in $LATEST."
        )
    revision = body.get("RevisionId")
    if revision is not None and revision != latest.revision_id:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetFunction/GetAlias API to retrieve the latest Revision Id"
        )
