"""Aliases: Create/Get/Update/Delete/ListAliases, with weighted routing to a second version.

An alias names a version ($LATEST or a number); RoutingConfig.AdditionalVersionWeights sends a
share (0.0–1.0) of invocations to one other version. Checks and messages are AWS's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lamina import arns
from lamina.control.functions import FunctionRegistry
from lamina.control.provisioned import ProvisionedConcurrencyControl
from lamina.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lamina.model import LATEST, Alias
from lamina.store import DuplicateError, Store

ALIAS_PATTERN = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
VERSION_PATTERN = r"(\$LATEST|[0-9]+)"
MAX_LIST_ITEMS = 50


class AliasControl:
    def __init__(
        self,
        registry: FunctionRegistry,
        store: Store,
        provisioned: ProvisionedConcurrencyControl | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.provisioned = provisioned
        """Told when an alias moves or goes, so its provisioned environments follow."""

    async def create(self, name_param: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        alias_name = _alias_name(body.get("Name"))
        version = await self._version(name, body.get("FunctionVersion"))
        routing = await self._routing(name, version, body.get("RoutingConfig"))
        alias = Alias(
            function_name=name,
            name=alias_name,
            function_version=version,
            revision_id=str(uuid.uuid4()),
            description=_description(body.get("Description", "")),
            routing=routing or None,
        )
        try:
            await self.store.insert_alias(alias)
        except DuplicateError as exc:
            raise ResourceConflictException(
                f"Alias already exists: {self.registry.arn(name, alias_name)}"
            ) from exc
        return self.render(alias)

    async def get(self, name_param: str, alias_name: str) -> dict[str, Any]:
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        alias = await self.store.get_alias(name, alias_name)
        if alias is None:
            raise ResourceNotFoundException(
                f"Cannot find alias arn: {self.registry.arn(name, alias_name)}"
            )
        return self.render(alias)

    async def update(
        self, name_param: str, alias_name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        alias = await self.store.get_alias(name, alias_name)
        if alias is None:
            raise ResourceNotFoundException(
                f"Alias not found: {self.registry.arn(name, alias_name)}"
            )
        if body.get("RevisionId") not in (None, alias.revision_id):
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
        version = alias.function_version
        if body.get("FunctionVersion") is not None:
            version = await self._version(name, body["FunctionVersion"])
        routing = alias.routing
        if body.get("RoutingConfig") is not None:
            routing = await self._routing(name, version, body["RoutingConfig"]) or None
        elif routing and version in routing:
            routing = None
        elif routing:
            await self._routing(name, version, {"AdditionalVersionWeights": routing})
        updated = replace(
            alias,
            function_version=version,
            routing=routing,
            description=_description(body.get("Description", alias.description)),
            revision_id=str(uuid.uuid4()),
        )
        await self.store.put_alias(updated)
        if self.provisioned is not None and version != alias.function_version:
            await self.provisioned.alias_changed(name, alias_name)
        return self.render(updated)

    async def delete(self, name_param: str, alias_name: str) -> None:
        """204 even when the alias does not exist, as on AWS."""
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        await self.store.delete_alias(name, alias_name)
        if self.provisioned is not None:
            self.provisioned.alias_deleted(name, alias_name)

    async def list(
        self, name_param: str, version: str | None, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        aliases = await self.store.list_aliases(name)
        if version is not None:
            aliases = [a for a in aliases if a.function_version == version]
        start = int(marker) if marker and marker.isdigit() else 0
        limit = min(max_items or MAX_LIST_ITEMS, MAX_LIST_ITEMS)
        doc: dict[str, Any] = {"Aliases": [self.render(a) for a in aliases[start : start + limit]]}
        if start + limit < len(aliases):
            doc["NextMarker"] = str(start + limit)
        return doc

    def render(self, alias: Alias) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "AliasArn": self.registry.arn(alias.function_name, alias.name),
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        }
        if alias.routing:
            doc["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.routing)}
        return doc

    async def _version(self, name: str, value: object) -> str:
        if not isinstance(value, str) or not re.fullmatch(VERSION_PATTERN, value):
            raise ValidationException(
                arns.validation_message(
                    str(value),
                    "functionVersion",
                    f"Member must satisfy regular expression pattern: {VERSION_PATTERN}",
                )
            )
        if value != LATEST and await self.store.get_version(name, value) is None:
            raise ResourceNotFoundException(f"Function not found: {self.registry.arn(name, value)}")
        return value

    async def _routing(self, name: str, primary: str, value: object) -> dict[str, float]:
        if value is None:
            return {}
        weights = value.get("AdditionalVersionWeights") if isinstance(value, Mapping) else None
        if weights is None:
            return {}
        if not isinstance(weights, Mapping):
            raise ValidationException("AdditionalVersionWeights must map versions to weights")
        if len(weights) > 1:
            raise InvalidParameterValueException(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        checked: dict[str, float] = {}
        for version, weight in weights.items():
            if not isinstance(version, str) or not re.fullmatch(r"[0-9]+", version):
                raise ValidationException(
                    arns.validation_message(
                        str(version),
                        "routingConfig.additionalVersionWeights.key",
                        "Member must satisfy regular expression pattern: [0-9]+",
                    )
                )
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not 0 <= weight <= 1
            ):
                raise ValidationException(
                    arns.validation_message(
                        str(weight),
                        "routingConfig.additionalVersionWeights.value",
                        "Member must have value between 0.0 and 1.0",
                    )
                )
            if primary == LATEST:
                raise InvalidParameterValueException(
                    "$LATEST is not supported for an alias pointing to more than 1 version"
                )
            if version == primary:
                raise InvalidParameterValueException(
                    f"Invalid function version {version}. Function version {version} is already "
                    "included in routing configuration."
                )
            await self._version(name, version)
            checked[version] = float(weight)
        return checked


def _alias_name(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 128
        or not re.fullmatch(ALIAS_PATTERN, value)
    ):
        raise ValidationException(
            arns.validation_message(
                str(value),
                "name",
                f"Member must satisfy regular expression pattern: {ALIAS_PATTERN}",
            )
        )
    return value


def _description(value: object) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise ValidationException(
            arns.validation_message(
                str(value), "description", "Member must have length less than or equal to 256"
            )
        )
    return value
