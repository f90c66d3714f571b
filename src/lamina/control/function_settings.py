"""Two small settings AWS keeps beside a function: runtime management and recursion control.

- Get/PutRuntimeManagementConfig: ``UpdateRuntimeOn`` (``Auto`` by default, ``FunctionUpdate``,
  ``Manual`` with a ``RuntimeVersionArn``), per version ($LATEST or a number; an alias names
  the version it points to).
- Get/PutFunctionRecursionConfig: ``RecursiveLoop`` (``Terminate`` by default, or ``Allow``),
  per function.

lamina runs each runtime on the interpreter the host has, so the runtime management mode is
stored and reported but selects nothing; likewise lamina detects no recursive loops, so
``RecursiveLoop`` is reported only. Neither changes the function's RevisionId or its
``RuntimeVersionConfig``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lamina import arns
from lamina.control.functions import FunctionRegistry
from lamina.errors import InvalidParameterValueException, ValidationException
from lamina.store import SettingsStore

RUNTIME_MANAGEMENT = "runtime_management"
RECURSION = "recursion"
UPDATE_RUNTIME_ON = ("Auto", "Manual", "FunctionUpdate")
RECURSIVE_LOOP = ("Allow", "Terminate")
RUNTIME_VERSION_ARN_PATTERN = (
    r"((arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}::"
    r"runtime:.+)|(arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+"
    r"-\d{1}:\d{12}:runtime/[A-Za-z0-9_.-]{1,128}/version/[A-Za-z0-9_.-]{1,128}))"
)
RUNTIME_VERSION_ARN_LENGTH = (26, 2048)
UNQUALIFIED_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)"
)


class FunctionSettings:
    def __init__(self, registry: FunctionRegistry, settings: SettingsStore) -> None:
        self.registry = registry
        self.settings = settings

    async def get_runtime_management(
        self, name_param: str, qualifier: str | None
    ) -> dict[str, str]:
        name, version = await self._version(name_param, qualifier)
        stored = await self.settings.get_function_setting(name, version, RUNTIME_MANAGEMENT)
        return self._runtime_doc(name, version, stored or {"UpdateRuntimeOn": "Auto"})

    async def put_runtime_management(
        self, name_param: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, str]:
        document = _runtime_management(body)
        name, version = await self._version(name_param, qualifier)
        await self.settings.put_function_setting(name, version, RUNTIME_MANAGEMENT, document)
        return self._runtime_doc(name, version, document)

    async def get_recursion(self, name_param: str) -> dict[str, str]:
        name = await self._function(name_param)
        stored = await self.settings.get_function_setting(name, "", RECURSION)
        return {"RecursiveLoop": (stored or {}).get("RecursiveLoop", "Terminate")}

    async def put_recursion(self, name_param: str, body: Mapping[str, Any]) -> dict[str, str]:
        loop = _enum(body.get("RecursiveLoop"), "recursiveLoop", RECURSIVE_LOOP)
        name = await self._function(name_param)
        await self.settings.put_function_setting(name, "", RECURSION, {"RecursiveLoop": loop})
        return {"RecursiveLoop": loop}

    def _runtime_doc(self, name: str, version: str, stored: Mapping[str, Any]) -> dict[str, str]:
        doc = {"UpdateRuntimeOn": str(stored["UpdateRuntimeOn"])}
        if stored.get("RuntimeVersionArn"):
            doc["RuntimeVersionArn"] = str(stored["RuntimeVersionArn"])
        doc["FunctionArn"] = self.registry.arn(name, version)
        return doc

    async def _version(self, name_param: str, qualifier: str | None) -> tuple[str, str]:
        """(name, version) the request is about: $LATEST, a number, or an alias's version."""
        name, qualifier = self.registry.reference(name_param, qualifier)
        view = await self.registry.view(name, qualifier)
        return name, view.config.version

    async def _function(self, name_param: str) -> str:
        """An existing function named without qualifier, as the recursion operations take it."""
        name, qualifier = self.registry.reference(name_param, None, max_length=140)
        if qualifier is not None:
            raise ValidationException(
                arns.validation_message(
                    name_param,
                    "functionName",
                    f"Member must satisfy regular expression pattern: {UNQUALIFIED_NAME_PATTERN}",
                )
            )
        await self.registry.existing(name)
        return name


def _runtime_management(body: Mapping[str, Any]) -> dict[str, str]:
    """The stored document of a PutRuntimeManagementConfig request, checked."""
    mode = _enum(body.get("UpdateRuntimeOn"), "updateRuntimeOn", UPDATE_RUNTIME_ON)
    version_arn = body.get("RuntimeVersionArn")
    if version_arn is not None:
        low, high = RUNTIME_VERSION_ARN_LENGTH
        if not isinstance(version_arn, str) or not low <= len(version_arn) <= high:
            raise ValidationException(
                arns.validation_message(
                    str(version_arn),
                    "runtimeVersionArn",
                    f"Member must have length between {low} and {high}",
                )
            )
        if not re.fullmatch(RUNTIME_VERSION_ARN_PATTERN, version_arn):
            raise ValidationException(
                arns.validation_message(
                    version_arn,
                    "runtimeVersionArn",
                    "Member must satisfy regular expression pattern: "
                    + RUNTIME_VERSION_ARN_PATTERN,
                )
            )
    if mode != "Manual":
        # Only the Manual mode pins a runtime version; AWS reports none for the others.
        return {"UpdateRuntimeOn": mode}
    if not version_arn:
        raise InvalidParameterValueException(
            "You must specify a RuntimeVersionArn when UpdateRuntimeOn is set to Manual."
        )
    return {"UpdateRuntimeOn": mode, "RuntimeVersionArn": version_arn}


def _enum(value: object, member: str, allowed: tuple[str, ...]) -> str:
    if value is None:
        raise ValidationException(
            f"1 validation error detected: Value null at '{member}' failed to satisfy "
            "constraint: Member must not be null"
        )
    if value not in allowed:
        raise ValidationException(
            arns.validation_message(
                str(value), member, f"Member must satisfy enum value set: [{', '.join(allowed)}]"
            )
        )
    return str(value)
