"""FunctionRegistry: create, read, update and delete functions, with AWS's state transitions.

A created function answers ``State: Pending`` and turns ``Active`` right after the response
(its package is already validated and unpacked by then); an update answers
``LastUpdateStatus: InProgress`` and turns ``Successful`` the same way, retiring environments
built from the old configuration. Each transition gets a new RevisionId, as on AWS.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lamina import arns
from lamina.artifacts import MAX_UNZIPPED_BYTES, CodeArtifact, CodeStore, InvalidZipError
from lamina.control import layer_refs, members
from lamina.control import validation as check
from lamina.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lamina.invoke import Invoker
from lamina.model import LATEST, FunctionConfig, LayerRef, State, UpdateStatus
from lamina.runtimes import RuntimeCatalog
from lamina.store import DuplicateError, Store

log = logging.getLogger(__name__)

MAX_LIST_ITEMS = 50
TOTAL_CODE_SIZE_LIMIT = 80_530_636_800
_CREATING = ("The function is being created.", "Creating")


@dataclass(frozen=True)
class FunctionView:
    """A configuration as one request sees it: which ARN to show, which tags."""

    config: FunctionConfig
    arn: str
    tags: Mapping[str, str] | None = None


class FunctionRegistry:
    def __init__(
        self,
        store: Store,
        code: CodeStore,
        invoker: Invoker,
        runtimes: RuntimeCatalog,
        region: str,
        account: str,
    ) -> None:
        self.store = store
        self.code = code
        self.invoker = invoker
        self.runtimes = runtimes
        self.region = region
        self.account = account
        self._settling: set[asyncio.Task[None]] = set()
        self.code_lock = asyncio.Lock()
        """Serialises storing packages with removing unused ones, so a package is never removed
        between being stored and being referred to."""

    # -- reads -----------------------------------------------------------------------------

    async def get(self, name_param: str, qualifier: str | None = None) -> FunctionView:
        name, qualifier = self.reference(name_param, qualifier)
        return await self.view(name, qualifier)

    async def view(self, name: str, qualifier: str | None) -> FunctionView:
        """The configuration a qualifier names ($LATEST, a version or an alias's version),
        shown with the ARN as the caller named it; AWS's 404 if any part is missing."""
        latest = await self.existing(name)
        arn = self.arn(name, qualifier)
        if qualifier is None or qualifier == LATEST:
            return FunctionView(latest, arn, config_tags(latest))
        target = qualifier
        if not qualifier.isdigit():
            alias = await self.store.get_alias(name, qualifier)
            if alias is None:
                raise ResourceNotFoundException(f"Function not found: {arn}")
            target = alias.function_version
        config = latest if target == LATEST else await self.store.get_version(name, target)
        if config is None:
            raise ResourceNotFoundException(f"Function not found: {arn}")
        return FunctionView(config, arn, config_tags(latest))

    async def list(
        self, marker: str | None, max_items: int | None, version: str | None
    ) -> tuple[list[FunctionView], str | None]:
        if version not in (None, "ALL"):
            raise ValidationException(
                arns.validation_message(
                    version, "functionVersion", "Member must satisfy enum value set: [ALL]"
                )
            )
        if max_items is not None and max_items < 1:
            raise ValidationException(
                arns.validation_message(
                    str(max_items), "maxItems", "Member must have value greater than or equal to 1"
                )
            )
        limit = min(max_items or MAX_LIST_ITEMS, MAX_LIST_ITEMS)
        configs = await self.store.list_functions(members.decode_marker(marker), limit + 1)
        next_marker = (
            members.encode_marker(configs[limit - 1].name) if len(configs) > limit else None
        )
        views: list[FunctionView] = []
        for config in configs[:limit]:
            if version != "ALL":
                views.append(FunctionView(config, self.arn(config.name)))
                continue
            views.append(FunctionView(config, self.arn(config.name, LATEST)))
            published = await self.store.list_versions(config.name)
            views += [FunctionView(v, self.arn(v.name, v.version)) for v in published]
        return views, next_marker

    async def account_settings(self) -> dict[str, Any]:
        count, total = await self.store.account_usage()
        admission = self.invoker.admission
        return {
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE_LIMIT,
                "CodeSizeUnzipped": self.code.max_unzipped_bytes,
                "CodeSizeZipped": members.MAX_ZIPPED_BYTES,
                "ConcurrentExecutions": admission.account_limit,
                "UnreservedConcurrentExecutions": admission.unreserved_limit,
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": count},
        }

    def code_path(self, sha256_hex: str) -> Path:
        return self.code.zip_path(sha256_hex)

    # -- writes ----------------------------------------------------------------------------

    async def create(self, body: Mapping[str, Any]) -> FunctionView:
        name_param = body.get("FunctionName")
        if not isinstance(name_param, str) or not name_param:
            raise ValidationException("FunctionName is required")
        name, qualifier = self.reference(name_param, None, max_length=140, creating=True)
        if qualifier is not None:
            raise ValidationException(
                arns.validation_message(
                    name_param,
                    "functionName",
                    f"Member must satisfy regular expression pattern: {arns.FUNCTION_NAME_PATTERN}",
                )
            )
        members.refuse_unsupported(body)
        fields = self._settings(body, creating=True)
        check.check_snap_start_fits(
            fields.get("snap_start_apply_on", "None"),
            fields["runtime"],
            fields.get("ephemeral_storage_mb", 512),
        )
        fields.update(await self._layers(body))
        tags = members.tags(body.get("Tags"))
        zip_bytes = members.zip_package(body.get("Code"))
        if await self.store.get_function(name) is not None:
            raise ResourceConflictException(f"Function already exist: {name}")
        async with self.code_lock:
            artifact = await self.store_code(zip_bytes)
            try:
                _check_total_size(artifact.unzipped_size, fields.get("layers", ()))
            except InvalidParameterValueException:
                await self._drop_unused(artifact.sha256_hex)
                raise
            return await self._insert_new(name, artifact, fields, tags)

    async def _insert_new(
        self, name: str, artifact: CodeArtifact, fields: dict[str, Any], tags: dict[str, str] | None
    ) -> FunctionView:
        now = _now_ms()
        config = FunctionConfig(
            name=name,
            code_sha256=artifact.sha256_hex,
            code_size=artifact.size,
            revision_id=str(uuid.uuid4()),
            last_modified_ms=now,
            state=State.PENDING,
            state_reason=_CREATING[0],
            state_reason_code=_CREATING[1],
            tags=tags,
            **fields,
        )
        try:
            await self.store.insert_function(config)
        except DuplicateError as exc:
            await self._drop_unused(artifact.sha256_hex)
            raise ResourceConflictException(f"Function already exist: {name}") from exc
        self._settle_soon(name, config.revision_id)
        return FunctionView(config, self.arn(name), tags)

    async def update_code(self, name_param: str, body: Mapping[str, Any]) -> FunctionView:
        name = self.function_only(name_param)
        config = await self._updatable(name, body.get("RevisionId"))
        members.refuse_unsupported(body)
        zip_bytes = members.zip_package(body)
        changes: dict[str, Any] = {}
        if "Architectures" in body:
            changes["architectures"] = check.check_architectures(body["Architectures"])
        if body.get("DryRun"):
            checked = await self.store_code(zip_bytes, dry_run=True)
            _check_total_size(checked.unzipped_size, config.layers)
            changes.update(code_sha256=checked.sha256_hex, code_size=checked.size)
            return FunctionView(replace(config, **changes), self.arn(name), config_tags(config))
        async with self.code_lock:
            artifact = await self.store_code(zip_bytes)
            try:
                _check_total_size(artifact.unzipped_size, config.layers)
            except InvalidParameterValueException:
                await self._drop_unused(artifact.sha256_hex)
                raise
            changes.update(code_sha256=artifact.sha256_hex, code_size=artifact.size)
            return await self._apply_update(config, changes)

    async def update_configuration(self, name_param: str, body: Mapping[str, Any]) -> FunctionView:
        name = self.function_only(name_param)
        config = await self._updatable(name, body.get("RevisionId"))
        members.refuse_unsupported(body)
        changes = self._settings(body, creating=False)
        check.check_snap_start_fits(
            changes.get("snap_start_apply_on", config.snap_start_apply_on),
            changes.get("runtime", config.runtime),
            changes.get("ephemeral_storage_mb", config.ephemeral_storage_mb),
        )
        changes.update(await self._layers(body))
        if changes.get("layers"):
            code_size = await asyncio.to_thread(self.code.unzipped_size, config.code_sha256)
            _check_total_size(code_size, changes["layers"])
        return await self._apply_update(config, changes)

    async def delete(self, name_param: str, qualifier: str | None) -> None:
        """Delete the function, or with a version number as qualifier, that version."""
        name, qualifier = self.reference(name_param, qualifier, max_length=140)
        if qualifier == LATEST:
            raise InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if qualifier is not None and qualifier.isdigit():
            await self._delete_version(name, qualifier)
            return
        if qualifier is not None:
            raise InvalidParameterValueException(
                "Deletion of aliases is not supported by DeleteFunction: call DeleteAlias."
            )
        removed = await self.store.delete_function(name)
        if removed is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(name)}")
        await self.invoker.retire_environments(name, None)
        self.invoker.admission.set_reservation(name, None)
        await self._collect_code(removed.code_sha256, name)
        for layer in removed.layers:
            await self.collect_package(layer.code_sha256)

    async def _delete_version(self, name: str, version: str) -> None:
        await self.existing(name)
        referring = [
            a.name
            for a in await self.store.list_aliases(name)
            if a.function_version == version or version in (a.routing or {})
        ]
        if referring:
            raise ResourceConflictException(
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(referring)}]"
            )
        removed = await self.store.delete_version(name, version)
        if removed is None:
            raise ResourceNotFoundException(f"Function not found: {self.arn(name, version)}")
        await self.invoker.retire_version(name, version)
        await self._collect_code(removed.code_sha256, name)
        for layer in removed.layers:
            await self.collect_package(layer.code_sha256)

    async def recover(self) -> Sequence[FunctionConfig]:
        """Finish transitions a crash interrupted and drop packages nobody refers to; returns
        the SnapStart versions still Pending (their snapshot must be made: VersionControl)."""
        snapshots: list[FunctionConfig] = []
        after: str | None = None
        while batch := await self.store.list_functions(after, 500):
            for config in batch:
                self.invoker.admission.set_reservation(config.name, config.reserved_concurrency)
                for version in await self.store.list_versions(config.name):
                    if version.state is State.PENDING and version.snap_start_optimized:
                        snapshots.append(version)
                    elif version.state is State.PENDING:
                        await self.store.replace_version(active(version))
                if (
                    config.state is State.PENDING
                    or config.last_update_status is UpdateStatus.IN_PROGRESS
                ):
                    await self._settle(config.name, config.revision_id)
            after = batch[-1].name
        await asyncio.to_thread(self.code.clear_merged)
        for sha in self.code.stored():
            if not await self.store.code_in_use(sha):
                await asyncio.to_thread(self.code.remove, sha)
        return snapshots

    async def runtimes_in_use(self) -> set[str]:
        """The runtimes of every stored function (what the sandbox should get ready for)."""
        found: set[str] = set()
        after: str | None = None
        while batch := await self.store.list_functions(after, 500):
            found.update(config.runtime for config in batch)
            after = batch[-1].name
        return found

    async def close(self) -> None:
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    # -- helpers ---------------------------------------------------------------------------

    def arn(self, name: str, qualifier: str | None = None) -> str:
        return arns.function_arn(self.region, self.account, name, qualifier)

    def reference(
        self,
        name_param: str,
        qualifier: str | None,
        *,
        max_length: int = 170,
        creating: bool = False,
    ) -> tuple[str, str | None]:
        """(name, qualifier) from a FunctionName parameter and an optional Qualifier."""
        ref = arns.parse_function_name(name_param, max_length=max_length)
        if len(ref.name) > arns.MAX_NAME_LENGTH:
            if creating:
                raise InvalidParameterValueException(
                    arns.validation_message(
                        name_param,
                        "functionName",
                        "Member must have length less than or equal to 64",
                    )
                )
            raise ResourceNotFoundException(f"Function not found: {self.arn(ref.name)}")
        if ref.region is not None and ref.region != self.region:
            raise ResourceNotFoundException(
                f"Functions from '{ref.region}' are not reachable in this region ('{self.region}')"
            )
        if ref.account is not None and ref.account != self.account:
            raise AccessDeniedException(
                f"The function {name_param} belongs to account {ref.account}, not {self.account}."
            )
        if qualifier is not None:
            arns.check_qualifier(qualifier)
            if ref.qualifier is not None and ref.qualifier != qualifier:
                raise InvalidParameterValueException(
                    "The derived qualifier from the function name does not match the specified "
                    "qualifier."
                )
        return ref.name, qualifier if qualifier is not None else ref.qualifier

    def function_only(self, name_param: str) -> str:
        """The name of an unqualified function reference; a qualified one is AWS's 400."""
        name, qualifier = self.reference(name_param, None)
        if qualifier is not None:
            raise InvalidParameterValueException(
                "This operation is permitted on Lambda functions only. Aliases and versions do "
                "not support this operation. Please specify either a function name or an "
                "unqualified function ARN."
            )
        return name

    async def existing(self, name: str) -> FunctionConfig:
        """The function's configuration, or AWS's 404."""
        return await self._existing(name, None)

    async def save_quietly(
        self, config: FunctionConfig, previous: FunctionConfig, *, new_revision: bool = True
    ) -> None:
        """Store a change that is not an update of the function's code or configuration: no
        state transition, and a new RevisionId unless told otherwise."""
        if new_revision:
            config = replace(config, revision_id=str(uuid.uuid4()))
        if not await self.store.replace_function(config, previous.revision_id):
            raise ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {self.arn(config.name)}"
            )

    async def _existing(self, name: str, qualifier: str | None) -> FunctionConfig:
        config = await self.store.get_function(name)
        if config is None or qualifier not in (None, LATEST):
            raise ResourceNotFoundException(f"Function not found: {self.arn(name, qualifier)}")
        return config

    async def _updatable(self, name: str, revision_id: object) -> FunctionConfig:
        config = await self._existing(name, None)
        if revision_id is not None and revision_id != config.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
        if config.last_update_status is UpdateStatus.IN_PROGRESS or config.state is State.PENDING:
            raise ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {self.arn(name)}"
            )
        return config

    def _settings(self, body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """FunctionConfig fields from the request members that were given, each checked."""
        fields: dict[str, Any] = {}
        if creating or "Runtime" in body:
            fields["runtime"] = check.check_runtime(body.get("Runtime"), self.runtimes)
        if creating or "Role" in body:
            fields["role"] = check.check_role(body.get("Role"))
        if creating or "Handler" in body:
            fields["handler"] = check.check_handler(body.get("Handler"))
        simple = {
            "Description": ("description", check.check_description),
            "Timeout": ("timeout_s", check.check_timeout),
            "MemorySize": ("memory_mb", check.check_memory),
            "EphemeralStorage": ("ephemeral_storage_mb", check.check_ephemeral_storage),
            "Environment": ("environment", check.check_environment),
            "Architectures": ("architectures", check.check_architectures),
            "TracingConfig": ("tracing_mode", check.check_tracing),
            "SnapStart": ("snap_start_apply_on", check.check_snap_start),
        }
        for member, (field, checker) in simple.items():
            if body.get(member) is not None:
                fields[field] = checker(body[member])
        if not creating and "Architectures" in fields:
            raise InvalidParameterValueException(
                "Architectures can only be changed with UpdateFunctionCode."
            )
        if body.get("LoggingConfig") is not None:
            fields.update(check.check_logging(body["LoggingConfig"]))
        if body.get("DeadLetterConfig") is not None:
            fields["dead_letter_target_arn"] = check.check_dead_letter(body["DeadLetterConfig"])
        if body.get("KMSKeyArn") is not None:
            fields["kms_key_arn"] = check.check_kms_key_arn(body["KMSKeyArn"])
        return fields

    async def _layers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ``layers`` field from a request's ``Layers`` member, when it has one."""
        if body.get("Layers") is None:
            return {}
        return {
            "layers": await layer_refs.resolve(
                self.store, self.region, self.account, body["Layers"]
            )
        }

    async def store_code(self, zip_bytes: bytes, *, dry_run: bool = False) -> CodeArtifact:
        try:
            return await asyncio.to_thread(self.code.check if dry_run else self.code.put, zip_bytes)
        except InvalidZipError as exc:
            message = str(exc)
            if message.startswith("Unzipped size"):
                raise InvalidParameterValueException(message) from exc
            raise InvalidParameterValueException(
                "Could not unzip uploaded file. Please check your file, then try to upload again. "
                f"({message})"
            ) from exc

    async def _apply_update(self, config: FunctionConfig, changes: dict[str, Any]) -> FunctionView:
        updated = replace(
            config,
            **changes,
            revision_id=str(uuid.uuid4()),
            last_modified_ms=_now_ms(),
            last_update_status=UpdateStatus.IN_PROGRESS,
            last_update_status_reason=_CREATING[0],
            last_update_status_reason_code=_CREATING[1],
        )
        if not await self.store.replace_function(updated, config.revision_id):
            raise ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {self.arn(config.name)}"
            )
        self._settle_soon(config.name, updated.revision_id, config.code_sha256)
        return FunctionView(updated, self.arn(config.name), config_tags(updated))

    def _settle_soon(self, name: str, revision_id: str, previous_code: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(
            self._settle(name, revision_id, previous_code)
        )
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, name: str, revision_id: str, previous_code: str | None = None) -> None:
        """Finish a creation or an update: Active / Successful, with a new RevisionId."""
        config = await self.store.get_function(name)
        if config is None or config.revision_id != revision_id:
            return
        settled = replace(
            config,
            state=State.ACTIVE,
            state_reason=None,
            state_reason_code=None,
            last_update_status=UpdateStatus.SUCCESSFUL,
            last_update_status_reason=None,
            last_update_status_reason_code=None,
            revision_id=str(uuid.uuid4()),
        )
        if await self.store.replace_function(settled, revision_id):
            await self.invoker.retire_environments(name, settled)
            if previous_code is not None and previous_code != settled.code_sha256:
                await self._collect_code(previous_code, name)

    async def _drop_unused(self, sha256_hex: str) -> None:
        """Remove a package just stored for a request that then failed (caller holds the lock)."""
        if not await self.store.code_in_use(sha256_hex):
            await asyncio.to_thread(self.code.remove, sha256_hex)

    async def collect_package(self, sha256_hex: str) -> None:
        """Remove a layer's package once nothing refers to it. Running environments are not
        affected: they see layers through merged folders of hard links."""
        async with self.code_lock:
            await self._drop_unused(sha256_hex)

    async def _collect_code(self, sha256_hex: str, function_name: str) -> None:
        """Remove a package no function refers to any more, unless an environment may still
        be running from it (then the next start removes it)."""
        async with self.code_lock:
            if await self.store.code_in_use(sha256_hex):
                return
            if self.invoker.has_environments(function_name):
                return
            await asyncio.to_thread(self.code.remove, sha256_hex)


def config_tags(config: FunctionConfig) -> Mapping[str, str] | None:
    return config.tags or None


def _check_total_size(code_unzipped: int, layers: Sequence[LayerRef]) -> None:
    """AWS's limit on the function's code and its layers, unzipped, together."""
    total = code_unzipped + sum(layer.unzipped_size for layer in layers)
    if layers and total > MAX_UNZIPPED_BYTES:
        raise InvalidParameterValueException(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{MAX_UNZIPPED_BYTES} bytes. The actual size is {total} bytes."
        )


def _now_ms() -> int:
    return int(time.time() * 1000)


def active(config: FunctionConfig) -> FunctionConfig:
    return replace(
        config,
        state=State.ACTIVE,
        state_reason=None,
        state_reason_code=None,
        last_update_status=UpdateStatus.SUCCESSFUL,
    )
