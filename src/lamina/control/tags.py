"""Tags of functions: TagResource, UntagResource, ListTags (and ``Tags`` on CreateFunction).

Tags belong to the function, not to its versions or aliases: a qualified ARN is refused, as
on AWS. At most 50 per function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from lamina.control import members
from lamina.control.functions import FunctionRegistry
from lamina.errors import InvalidParameterValueException, ValidationException

MAX_TAGS = 50


class TagControl:
    def __init__(self, registry: FunctionRegistry) -> None:
        self.registry = registry

    async def tag(self, resource_arn: str, tags: object) -> None:
        name = self._function(resource_arn)
        new = members.tags(tags)
        if not new:
            raise ValidationException("Tags must not be empty")
        config = await self.registry.existing(name)
        merged = {**(config.tags or {}), **new}
        if len(merged) > MAX_TAGS:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        await self.registry.save_quietly(replace(config, tags=merged), config, new_revision=False)

    async def untag(self, resource_arn: str, keys: list[str]) -> None:
        name = self._function(resource_arn)
        if not keys:
            raise ValidationException(
                "1 validation error detected: Value null at 'tagKeys' failed to satisfy "
                "constraint: Member must not be null"
            )
        config = await self.registry.existing(name)
        remaining = {k: v for k, v in (config.tags or {}).items() if k not in keys}
        await self.registry.save_quietly(
            replace(config, tags=remaining or None), config, new_revision=False
        )

    async def list(self, resource_arn: str) -> Mapping[str, str]:
        config = await self.registry.existing(self._function(resource_arn))
        return dict(config.tags or {})

    def _function(self, resource_arn: str) -> str:
        name, qualifier = self.registry.reference(resource_arn, None)
        if qualifier is not None:
            raise InvalidParameterValueException(
                "Tags on function aliases and versions are not supported. Please specify a "
                "function ARN."
            )
        return name
