"""Provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s).

A configuration names a published version or an alias (never $LATEST) and a number of
environments to keep initialised; it is stored (``store/sqlite_provisioned.py``) and handed to
the data plane (``Invoker.provision``), which starts those environments at once and counts them
against the function's concurrency. Put answers 202 ``IN_PROGRESS``; Get and List report the
provisioner's progress (READY, or FAILED with a reason). Checks and messages are AWS's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lamina import arns
from lamina.control.functions import FunctionRegistry
from lamina.errors import (
    InvalidParameterValueException,
    LaminaError,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lamina.model import LATEST, FunctionConfig, ProvisionedConfig
from lamina.store import ProvisionedStore, Store

MAX_LIST_ITEMS = 50
_UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
_NOT_ALIAS_OR_VERSION = "The function resource provided must be an alias or a published version."


class ProvisionedConcurrencyControl:
    def __init__(
        self, registry: FunctionRegistry, store: Store, provisioned: ProvisionedStore
    ) -> None:
        self.registry = registry
        self.store = store
        self.provisioned = provisioned
        self.invoker = registry.invoker

    async def put(
        self, name_param: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        requested = _requested(body.get("ProvisionedConcurrentExecutions"))
        name, qualifier = self._reference(name_param, qualifier, _UNPUBLISHED)
        version = await self._version(name, qualifier)
        latest = await self.registry.existing(name)
        self._check_limits(latest, f"{name}:{qualifier}", requested)
        await self._check_conflicts(name, qualifier, version)
        config = ProvisionedConfig(name, qualifier, requested, int(time.time() * 1000))
        await self.provisioned.put_provisioned(config)
        self.invoker.provision(f"{name}:{qualifier}", version, requested)
        return _render(config, "IN_PROGRESS", None, 0)

    async def get(self, name_param: str, qualifier: str | None) -> dict[str, Any]:
        name, qualifier = self._reference(name_param, qualifier, _NOT_ALIAS_OR_VERSION)
        await self._version(name, qualifier)
        config = await self.provisioned.get_provisioned(name, qualifier)
        if config is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        return self._render_live(config)

    async def delete(self, name_param: str, qualifier: str | None) -> None:
        """204 also when there is no configuration, as on AWS."""
        name, qualifier = self._reference(name_param, qualifier, _NOT_ALIAS_OR_VERSION)
        await self._version(name, qualifier)
        await self.provisioned.delete_provisioned(name, qualifier)
        self.invoker.unprovision(f"{name}:{qualifier}")

    async def list(
        self, name_param: str, marker: str | None, max_items: str | None
    ) -> dict[str, Any]:
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        limit = _max_items(max_items)
        configs = await self.provisioned.list_provisioned(name)
        start = int(marker) if marker and marker.isdigit() else 0
        page = configs[start : start + limit]
        doc: dict[str, Any] = {
            "ProvisionedConcurrencyConfigs": [
                {"FunctionArn": self.registry.arn(name, c.qualifier), **self._render_live(c)}
                for c in page
            ]
        }
        if start + limit < len(configs):
            doc["NextMarker"] = str(start + limit)
        return doc

    async def recover(self) -> None:
        """Provision every stored configuration again (a restart starts no environments)."""
        for config in await self.provisioned.list_provisioned():
            try:
                version = await self._version(config.function_name, config.qualifier)
            except LaminaError:
                await self.provisioned.delete_provisioned(config.function_name, config.qualifier)
                continue
            target = f"{config.function_name}:{config.qualifier}"
            self.invoker.provision(target, version, config.requested)

    async def alias_changed(self, name: str, alias: str) -> None:
        """Move an alias's provisioned environments to the version it names now."""
        config = await self.provisioned.get_provisioned(name, alias)
        if config is None:
            return
        try:
            version = await self._version(name, alias)
        except LaminaError:
            self.invoker.unprovision(f"{name}:{alias}")
            return
        self.invoker.provision(f"{name}:{alias}", version, config.requested)

    def alias_deleted(self, name: str, alias: str) -> None:
        self.invoker.unprovision(f"{name}:{alias}")

    # -- checks ----------------------------------------------------------------------------

    def _reference(
        self, name_param: str, qualifier: str | None, latest_message: str
    ) -> tuple[str, str]:
        name, qualifier = self.registry.reference(name_param, qualifier)
        if qualifier is None:
            raise ValidationException(
                "1 validation error detected: Value null at 'qualifier' failed to satisfy "
                "constraint: Member must not be null"
            )
        if qualifier == LATEST:
            raise InvalidParameterValueException(latest_message)
        return name, qualifier

    async def _version(self, name: str, qualifier: str) -> FunctionConfig:
        """The published version a qualifier names (an alias's version); AWS's 404s."""
        target = qualifier
        if not qualifier.isdigit():
            alias = await self.store.get_alias(name, qualifier)
            if alias is None:
                raise ResourceNotFoundException(
                    f"Cannot find alias arn: {self.registry.arn(name, qualifier)}"
                )
            if alias.function_version == LATEST:
                raise InvalidParameterValueException(_UNPUBLISHED)
            target = alias.function_version
        version = await self.store.get_version(name, target)
        if version is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.registry.arn(name, qualifier)}"
            )
        return version

    def _check_limits(self, latest: FunctionConfig, target: str, requested: int) -> None:
        total = self.invoker.provisioned_total(latest.name, without=target) + requested
        reserved = latest.reserved_concurrency
        if reserved is not None:
            if total > reserved:
                raise InvalidParameterValueException(
                    "Requested Provisioned Concurrency should not be greater than the "
                    "reservedConcurrentExecution for function"
                )
            return
        admission = self.invoker.admission
        if not admission.can_provision(latest.name, total):
            raise InvalidParameterValueException(
                "Specified ConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of "
                f"[{admission.min_unreserved}]."
            )

    async def _check_conflicts(self, name: str, qualifier: str, version: FunctionConfig) -> None:
        """An alias and the version it names cannot both hold a configuration."""
        if not qualifier.isdigit():
            if await self.provisioned.get_provisioned(name, version.version) is not None:
                raise ResourceConflictException(
                    "Alias can't be used for Provisioned Concurrency configuration on an "
                    "already Provisioned version"
                )
            return
        configured = {c.qualifier for c in await self.provisioned.list_provisioned(name)}
        for alias in await self.store.list_aliases(name):
            if alias.function_version == qualifier and alias.name in configured:
                raise ResourceConflictException(
                    "Version is pointed by a Provisioned Concurrency alias"
                )

    def _render_live(self, config: ProvisionedConfig) -> dict[str, Any]:
        state = self.invoker.provisioner.state(f"{config.function_name}:{config.qualifier}")
        if state is None:
            return _render(config, "IN_PROGRESS", None, 0)
        return _render(config, state.status, state.reason, state.available)


def _render(
    config: ProvisionedConfig, status: str, reason: str | None, available: int
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": available,
        "AllocatedProvisionedConcurrentExecutions": available,
        "Status": status,
        "LastModified": _timestamp(config.last_modified_ms),
    }
    if reason is not None:
        doc["StatusReason"] = reason
    return doc


def _requested(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        shown = "null" if value is None else value
        raise ValidationException(
            f"1 validation error detected: Value '{shown}' at 'provisionedConcurrentExecutions' "
            "failed to satisfy constraint: Member must have value greater than or equal to 1"
        )
    return value


def _max_items(value: str | None) -> int:
    if value is None:
        return MAX_LIST_ITEMS
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIST_ITEMS:
        raise ValidationException(
            arns.validation_message(
                value, "maxItems", f"Member must have value between 1 and {MAX_LIST_ITEMS}"
            )
        )
    return int(value)


def _timestamp(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"
