"""Layers: publishing, reading, listing and deleting layer versions, and their permissions.

A layer version is an immutable zip with a number counted from 1 per layer name and never
reused. Its package lives in the same content-addressed store as functions' code, so a
package used both as code and as a layer is stored once, and a deleted layer version's
package stays as long as a function still uses it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lamina.arns import validation_message
from lamina.control import layer_refs, members
from lamina.control.functions import FunctionRegistry
from lamina.control.permissions import SID_PATTERN
from lamina.control.validation import ARCHITECTURES
from lamina.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lamina.model import LayerVersion
from lamina.runtimes import KNOWN_RUNTIMES
from lamina.store import Store

LAYER_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}"
    r":layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
)
_PLAIN_NAME = re.compile(r"[a-zA-Z0-9-_]+")
MAX_NAME_LENGTH = 140
MAX_DESCRIPTION = 256
MAX_LICENSE = 512
MAX_RUNTIMES = 15
MAX_LIST_ITEMS = 50
ACTION = "lambda:GetLayerVersion"
_PRINCIPAL = re.compile(r"\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root")
_ORGANIZATION = re.compile(r"o-[a-z0-9]{10,32}")
_NOT_FOUND = "The resource you requested does not exist."


class LayerControl:
    def __init__(self, registry: FunctionRegistry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self.region = registry.region
        self.account = registry.account

    def arn(self, name: str) -> str:
        return layer_refs.layer_arn(self.region, self.account, name)

    def version_arn(self, layer: LayerVersion) -> str:
        return layer_refs.layer_version_arn(
            self.region, self.account, layer.layer_name, layer.version
        )

    async def publish(self, name_param: str, body: Mapping[str, Any]) -> LayerVersion:
        name = self._name(name_param)
        draft = LayerVersion(
            layer_name=name,
            version=0,
            code_sha256="",
            code_size=0,
            unzipped_size=0,
            created_ms=int(time.time() * 1000),
            description=_description(body.get("Description")),
            compatible_runtimes=_runtimes(body.get("CompatibleRuntimes")),
            compatible_architectures=_architectures(body.get("CompatibleArchitectures")),
            license_info=_license(body.get("LicenseInfo")),
        )
        content = body.get("Content")
        if not isinstance(content, Mapping) or not content:
            raise ValidationException(
                validation_message("null", "content", "Member must not be null")
            )
        zip_bytes = members.zip_package(content)
        async with self.registry.code_lock:
            artifact = await self.registry.store_code(zip_bytes)
            return await self.store.add_layer_version(
                replace(
                    draft,
                    code_sha256=artifact.sha256_hex,
                    code_size=artifact.size,
                    unzipped_size=artifact.unzipped_size,
                )
            )

    async def get(self, name_param: str, version_param: str) -> LayerVersion:
        name, version = self._name(name_param), _version(version_param)
        layer = await self.store.get_layer_version(name, version)
        if layer is None:
            raise ResourceNotFoundException(_NOT_FOUND)
        return layer

    async def get_by_arn(self, arn: str | None) -> LayerVersion:
        parsed = layer_refs.parse_layer_arn(arn or "")
        if parsed is None or parsed.version is None:
            raise ValidationException(
                validation_message(
                    str(arn),
                    "arn",
                    "Member must satisfy regular expression pattern: "
                    f"{layer_refs.LAYER_VERSION_ARN_PATTERN}",
                )
            )
        if (parsed.region, parsed.account) != (self.region, self.account):
            raise ResourceNotFoundException(_NOT_FOUND)
        layer = await self.store.get_layer_version(parsed.name, parsed.version)
        if layer is None:
            raise ResourceNotFoundException(_NOT_FOUND)
        return layer

    async def list_versions(
        self, name_param: str, filters: Mapping[str, str | None]
    ) -> tuple[list[LayerVersion], str | None]:
        """One layer's versions matching the filters, newest first, paginated."""
        name = self._name(name_param)
        runtime, architecture, marker, max_items = _list_filters(filters)
        matching = [
            v
            for v in await self.store.list_layer_versions(name)
            if _compatible(v, runtime, architecture)
        ]
        start = 0
        if marker:
            start = next(
                (i + 1 for i, v in enumerate(matching) if str(v.version) == marker), len(matching)
            )
        page = matching[start : start + max_items]
        more = start + max_items < len(matching)
        return page, str(page[-1].version) if more and page else None

    async def list_layers(
        self, filters: Mapping[str, str | None]
    ) -> tuple[list[LayerVersion], str | None]:
        """Each layer's newest version matching the filters, by layer name, paginated."""
        runtime, architecture, marker, max_items = _list_filters(filters)
        latest: dict[str, LayerVersion] = {}
        for version in await self.store.list_layer_versions():
            if version.layer_name not in latest and _compatible(version, runtime, architecture):
                latest[version.layer_name] = version
        names = sorted(n for n in latest if not marker or n > marker)
        page = [latest[n] for n in names[:max_items]]
        return page, page[-1].layer_name if len(names) > max_items else None

    async def delete(self, name_param: str, version_param: str) -> None:
        """Remove a layer version; AWS answers the same whether or not it existed."""
        name, version = self._name(name_param), _version(version_param)
        layer = await self.store.get_layer_version(name, version)
        if layer is None or not await self.store.delete_layer_version(name, version):
            return
        await self.registry.collect_package(layer.code_sha256)

    # -- permissions --------------------------------------------------------------------------

    async def add_permission(
        self,
        name_param: str,
        version_param: str,
        body: Mapping[str, Any],
        revision_id: str | None = None,
    ) -> dict[str, str]:
        layer = await self._existing(name_param, version_param)
        sid = _sid(body.get("StatementId"))
        action = body.get("Action")
        if action != ACTION:
            raise ValidationException(
                validation_message(
                    str(action),
                    "action",
                    f"Member must satisfy regular expression pattern: {ACTION}",
                )
            )
        policy = await self.store.get_layer_policy(layer.layer_name, layer.version)
        statements: list[dict[str, Any]] = policy["statements"] if policy else []
        _check_revision(policy, revision_id)
        if any(s["Sid"] == sid for s in statements):
            raise ResourceConflictException(
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement."
            )
        statement = _statement(sid, body, self.version_arn(layer))
        revision_id = str(uuid.uuid4())
        await self.store.put_layer_policy(
            layer.layer_name,
            layer.version,
            {"statements": [*statements, statement], "revision_id": revision_id},
        )
        return {"Statement": json.dumps(statement), "RevisionId": revision_id}

    async def get_policy(self, name_param: str, version_param: str) -> dict[str, str]:
        layer = await self._existing(name_param, version_param)
        policy = await self.store.get_layer_policy(layer.layer_name, layer.version)
        if not policy:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        document = {"Version": "2012-10-17", "Id": "default", "Statement": policy["statements"]}
        return {"Policy": json.dumps(document), "RevisionId": policy["revision_id"]}

    async def remove_permission(
        self, name_param: str, version_param: str, sid: str, revision_id: str | None
    ) -> None:
        layer = await self._existing(name_param, version_param)
        policy = await self.store.get_layer_policy(layer.layer_name, layer.version)
        _check_revision(policy, revision_id)
        statements: list[dict[str, Any]] = policy["statements"] if policy else []
        kept = [s for s in statements if s["Sid"] != sid]
        if len(kept) == len(statements):
            raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
        new_policy = {"statements": kept, "revision_id": str(uuid.uuid4())} if kept else None
        await self.store.put_layer_policy(layer.layer_name, layer.version, new_policy)

    # -- helpers ------------------------------------------------------------------------------

    async def _existing(self, name_param: str, version_param: str) -> LayerVersion:
        name, version = self._name(name_param), _version(version_param)
        layer = await self.store.get_layer_version(name, version)
        if layer is None:
            arn = layer_refs.layer_version_arn(self.region, self.account, name, version)
            raise ResourceNotFoundException(f"Layer version {arn} does not exist.")
        return layer

    def _name(self, value: str) -> str:
        """The layer name from a LayerName parameter (a name or this account's layer ARN)."""
        if len(value) > MAX_NAME_LENGTH or not re.fullmatch(LAYER_NAME_PATTERN, value):
            raise ValidationException(
                validation_message(
                    value,
                    "layerName",
                    f"Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}",
                )
            )
        if _PLAIN_NAME.fullmatch(value):
            return value
        parsed = layer_refs.parse_layer_arn(value)
        assert parsed is not None
        if (parsed.region, parsed.account) != (self.region, self.account):
            raise ResourceNotFoundException(_NOT_FOUND)
        return parsed.name


def _version(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValidationException(
            validation_message(value, "versionNumber", "Member must be a number")
        ) from None
    if number < 1:
        raise InvalidParameterValueException("Layer Version Cannot be less than 1")
    return number


def _description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationException(
            validation_message(
                str(value),
                "description",
                f"Member must have length less than or equal to {MAX_DESCRIPTION}",
            )
        )
    return value


def _license(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_LICENSE:
        raise ValidationException(
            validation_message(
                str(value),
                "licenseInfo",
                f"Member must have length less than or equal to {MAX_LICENSE}",
            )
        )
    return value


def _enum_list(value: object, member: str, allowed: tuple[str, ...], limit: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > limit
        or not all(isinstance(v, str) and v in allowed for v in value)
    ):
        shown = f"[{', '.join(map(str, value))}]" if isinstance(value, list) else str(value)
        raise ValidationException(
            validation_message(
                shown,
                member,
                f"Member must have length less than or equal to {limit}, and every member must "
                f"satisfy enum value set: [{', '.join(allowed)}]",
            )
        )
    return tuple(value)


def _runtimes(value: object) -> tuple[str, ...]:
    return _enum_list(value, "compatibleRuntimes", KNOWN_RUNTIMES, MAX_RUNTIMES)


def _architectures(value: object) -> tuple[str, ...]:
    return _enum_list(value, "compatibleArchitectures", ARCHITECTURES, len(ARCHITECTURES))


def _list_filters(filters: Mapping[str, str | None]) -> tuple[str | None, str | None, str, int]:
    runtime = filters.get("CompatibleRuntime")
    architecture = filters.get("CompatibleArchitecture")
    errors = []
    if runtime is not None and runtime not in KNOWN_RUNTIMES:
        errors.append(
            f"Value '{runtime}' at 'compatibleRuntime' failed to satisfy constraint: Member must "
            f"satisfy enum value set: [{', '.join(KNOWN_RUNTIMES)}]"
        )
    if architecture is not None and architecture not in ARCHITECTURES:
        errors.append(
            f"Value '{architecture}' at 'compatibleArchitecture' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(ARCHITECTURES)}]"
        )
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise ValidationException(
            f"{len(errors)} validation error{plural} detected: {'; '.join(errors)}"
        )
    raw_max = filters.get("MaxItems")
    max_items = MAX_LIST_ITEMS
    if raw_max is not None:
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= MAX_LIST_ITEMS:
            raise ValidationException(
                validation_message(
                    raw_max,
                    "maxItems",
                    f"Member must have value less than or equal to {MAX_LIST_ITEMS}, and "
                    "greater than or equal to 1",
                )
            )
        max_items = int(raw_max)
    return runtime, architecture, filters.get("Marker") or "", max_items


def _compatible(layer: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    if runtime is not None and runtime not in layer.compatible_runtimes:
        return False
    return architecture is None or architecture in layer.compatible_architectures


def _sid(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(SID_PATTERN, value) or len(value) > 100:
        raise ValidationException(
            validation_message(
                str(value),
                "statementId",
                f"Member must satisfy regular expression pattern: {SID_PATTERN}",
            )
        )
    return value


def _statement(sid: str, body: Mapping[str, Any], resource: str) -> dict[str, Any]:
    principal = body.get("Principal")
    if not isinstance(principal, str) or not _PRINCIPAL.fullmatch(principal):
        raise ValidationException(
            validation_message(
                str(principal),
                "principal",
                "Member must satisfy regular expression pattern: "
                r"\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root",
            )
        )
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": _root(principal)},
        "Action": ACTION,
        "Resource": resource,
    }
    organization = body.get("OrganizationId")
    if organization is not None:
        if not isinstance(organization, str) or not _ORGANIZATION.fullmatch(organization):
            raise ValidationException(
                validation_message(
                    str(organization),
                    "organizationId",
                    "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}",
                )
            )
        if principal != "*":
            raise InvalidParameterValueException(
                "OrganizationId can only be specified when the principal is '*'."
            )
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization}}
    return statement


def _root(principal: str) -> str:
    return principal if principal.startswith("arn:") else f"arn:aws:iam::{principal}:root"


def _check_revision(policy: Mapping[str, Any] | None, given: object) -> None:
    if given is not None and (policy is None or given != policy["revision_id"]):
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetLayerPolicy API to retrieve the latest Revision Id"
        )
