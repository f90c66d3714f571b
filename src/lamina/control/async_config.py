"""Asynchronous invocation settings: Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s).

Per function and qualifier: MaximumRetryAttempts (0–2), MaximumEventAgeInSeconds (60–21,600)
and DestinationConfig (OnSuccess / OnFailure: a lamina function or an SQS queue). Put replaces
the whole document, Update merges into it, as on AWS.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from lamina import arns
from lamina.control.functions import FunctionRegistry
from lamina.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)
from lamina.model import LATEST
from lamina.store import Store

SQS_ARN = re.compile(r"arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?")
LIMITS = {"MaximumRetryAttempts": (0, 2), "MaximumEventAgeInSeconds": (60, 21600)}


class EventInvokeConfigs:
    def __init__(self, registry: FunctionRegistry, store: Store) -> None:
        self.registry = registry
        self.store = store

    async def put(
        self, name_param: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = await self._function(
            name_param, qualifier, missing="The function doesn't exist."
        )
        document = await self._checked(name, body)
        if not document:
            raise InvalidParameterValueException(
                "You must specify at least one of error handling or destination setting."
            )
        return await self._save(name, qualifier, document)

    async def update(
        self, name_param: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = await self._function(name_param, qualifier)
        current = await self._existing(name, qualifier)
        changes = await self._checked(name, body)
        merged = {k: v for k, v in current.items() if k != "LastModified"}
        destinations = dict(merged.get("DestinationConfig") or {})
        destinations.update(changes.pop("DestinationConfig", {}))
        merged.update(changes)
        if destinations:
            merged["DestinationConfig"] = destinations
        return await self._save(name, qualifier, merged)

    async def get(self, name_param: str, qualifier: str | None) -> dict[str, Any]:
        name, qualifier = await self._function(name_param, qualifier)
        return self._render(name, qualifier, await self._existing(name, qualifier))

    async def delete(self, name_param: str, qualifier: str | None) -> None:
        name, qualifier = await self._function(name_param, qualifier)
        await self._existing(name, qualifier)
        await self.store.delete_event_invoke_config(name, qualifier)

    async def list(
        self, name_param: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        name, _ = await self._function(name_param, None)
        items = await self.store.list_event_invoke_configs(name)
        start = int(marker) if marker and marker.isdigit() else 0
        limit = min(max_items or 50, 50)
        page = items[start : start + limit]
        doc: dict[str, Any] = {
            "FunctionEventInvokeConfigs": [self._render(name, q, c) for q, c in page]
        }
        if start + limit < len(items):
            doc["NextMarker"] = str(start + limit)
        return doc

    # -- helpers ---------------------------------------------------------------------------

    async def _function(
        self, name_param: str, qualifier: str | None, missing: str | None = None
    ) -> tuple[str, str]:
        name, qualifier = self.registry.reference(name_param, qualifier)
        qualifier = qualifier or LATEST
        try:
            await self.registry.existing(name)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(
                missing or f"Function not found: {self.registry.arn(name)}"
            ) from None
        if qualifier != LATEST:
            raise ResourceNotFoundException(
                f"Function not found: {self.registry.arn(name, qualifier)}"
            )
        return name, qualifier

    async def _existing(self, name: str, qualifier: str) -> dict[str, Any]:
        stored = await self.store.get_event_invoke_config(name, qualifier)
        if stored is None:
            raise ResourceNotFoundException(
                f"The function {self.registry.arn(name, qualifier)} doesn't have an "
                "EventInvokeConfig"
            )
        return stored

    async def _checked(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for member, (low, high) in LIMITS.items():
            if body.get(member) is None:
                continue
            value = body[member]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValidationException(
                    arns.validation_message(
                        str(value),
                        member[0].lower() + member[1:],
                        f"Member must have value between {low} and {high}",
                    )
                )
            document[member] = value
        destinations = body.get("DestinationConfig")
        if destinations is not None:
            document["DestinationConfig"] = await self._destinations(name, destinations)
        return document

    async def _destinations(self, name: str, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValidationException("DestinationConfig must be an object")
        checked: dict[str, Any] = {}
        for when in ("OnSuccess", "OnFailure"):
            target = value.get(when)
            if target is None:
                continue
            arn = target.get("Destination") if isinstance(target, Mapping) else None
            if arn:
                await self._check_destination(name, str(arn))
                checked[when] = {"Destination": arn}
            else:
                checked[when] = {}
        return checked

    async def _check_destination(self, name: str, arn: str) -> None:
        if arn.startswith("arn:aws:lambda:"):
            invalid = InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
            try:
                target, _ = self.registry.reference(arn, None)
            except ValidationException:
                raise invalid from None
            if target == name:
                raise InvalidParameterValueException(
                    "You can't specify the function as a destination for itself."
                )
            try:
                await self.registry.existing(target)
            except ResourceNotFoundException:
                raise invalid from None
            return
        if SQS_ARN.fullmatch(arn):
            return
        raise InvalidParameterValueException(
            f"The destination ARN {arn} is invalid. lamina delivers to functions and SQS queues."
        )

    async def _save(self, name: str, qualifier: str, document: dict[str, Any]) -> dict[str, Any]:
        document = {**document, "LastModified": time.time()}
        await self.store.put_event_invoke_config(name, qualifier, document)
        return self._render(name, qualifier, document)

    def _render(self, name: str, qualifier: str, document: Mapping[str, Any]) -> dict[str, Any]:
        destinations = document.get("DestinationConfig") or {}
        doc: dict[str, Any] = {
            "LastModified": document.get("LastModified", 0),
            "FunctionArn": self.registry.arn(name, qualifier),
        }
        for member in LIMITS:
            if member in document:
                doc[member] = document[member]
        doc["DestinationConfig"] = {
            "OnSuccess": destinations.get("OnSuccess") or {},
            "OnFailure": destinations.get("OnFailure") or {},
        }
        return doc
