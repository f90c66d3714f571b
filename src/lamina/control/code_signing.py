"""Code signing configurations and the functions that use them.

Create/Get/Update/Delete/ListCodeSigningConfigs, ListFunctionsByCodeSigningConfig, and
Put/Get/DeleteFunctionCodeSigningConfig (also ``CodeSigningConfigArn`` on CreateFunction).

lamina stores and reports a configuration exactly as AWS does but verifies no signature: there
is no AWS Signer to check packages against, so ``Enforce`` is reported, never enforced.
Error bodies follow AWS's recordings, down to which ones leave ``Type`` out.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from lamina import arns
from lamina.control import members
from lamina.control.functions import FunctionRegistry
from lamina.errors import (
    CodeSigningConfigNotFoundException,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lamina.store import SettingsStore

PUBLISHER_ARN_PATTERN = (
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+"
    r"-\d{1})?:(\d{12})?:(.*)"
)
POLICIES = ("Warn", "Enforce")
MAX_PUBLISHERS = 20
MAX_DESCRIPTION_LENGTH = 256
MAX_LIST_ITEMS = 50
MAX_TAGS = 50
_PUBLISHERS = "allowedPublishers.signingProfileVersionArns"
_ARN_MEMBER = "codeSigningConfigArn"


class CodeSigningControl:
    def __init__(self, registry: FunctionRegistry, settings: SettingsStore) -> None:
        self.registry = registry
        self.settings = settings

    # -- configurations --------------------------------------------------------------------

    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        publishers = _publishers(body.get("AllowedPublishers"))
        config_id = f"csc-{secrets.token_hex(9)[:17]}"
        config = {
            "CodeSigningConfigId": config_id,
            "CodeSigningConfigArn": self._arn(config_id),
            "Description": _description(body.get("Description", "")),
            "AllowedPublishers": publishers,
            "CodeSigningPolicies": _policies(body.get("CodeSigningPolicies")),
            "LastModified": _now(),
        }
        tags = members.tags(body.get("Tags"))
        await self.settings.put_code_signing_config(config_id, {**config, "Tags": tags})
        return config

    async def get(self, arn: str) -> dict[str, Any]:
        return _shown(await self._existing(arn))

    async def update(self, arn: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stored = await self._existing(arn)
        if "AllowedPublishers" in body:
            stored["AllowedPublishers"] = _publishers(body["AllowedPublishers"])
        if "CodeSigningPolicies" in body:
            stored["CodeSigningPolicies"] = _policies(body["CodeSigningPolicies"])
        if "Description" in body:
            stored["Description"] = _description(body["Description"])
        stored["LastModified"] = _now()
        await self.settings.put_code_signing_config(stored["CodeSigningConfigId"], stored)
        return _shown(stored)

    async def delete(self, arn: str) -> None:
        """Delete a configuration no function uses; AWS refuses to delete one in use."""
        config_id = (await self._existing(arn))["CodeSigningConfigId"]
        users = await self.settings.functions_using_code_signing(config_id, None, 10)
        if users:
            raise ResourceConflictException(
                f"The code signing configuration {arn} cannot be deleted because it is used by "
                f"the following functions: [{', '.join(users)}]. Remove it from them first."
            )
        await self.settings.delete_code_signing_config(config_id)

    async def list_configs(
        self, marker: str | None, max_items: int | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        limit = _limit(max_items)
        found = await self.settings.list_code_signing_configs(
            members.decode_marker(marker), limit + 1
        )
        next_marker = None
        if len(found) > limit:
            next_marker = members.encode_marker(found[limit - 1]["CodeSigningConfigId"])
        return [_shown(c) for c in found[:limit]], next_marker

    async def functions(
        self, arn: str, marker: str | None, max_items: int | None
    ) -> tuple[list[str], str | None]:
        """ARNs of the functions using the configuration, by name, a page at a time."""
        config_id = (await self._existing(arn))["CodeSigningConfigId"]
        limit = _limit(max_items)
        names = await self.settings.functions_using_code_signing(
            config_id, members.decode_marker(marker), limit + 1
        )
        next_marker = members.encode_marker(names[limit - 1]) if len(names) > limit else None
        return [self.registry.arn(n) for n in names[:limit]], next_marker

    # -- tags of a configuration (TagResource, UntagResource, ListTags on its ARN) ----------

    async def tag(self, arn: str, tags: object) -> None:
        stored = await self._existing(arn)
        new = members.tags(tags)
        if not new:
            raise ValidationException("Tags must not be empty")
        merged = {**(stored.get("Tags") or {}), **new}
        if len(merged) > MAX_TAGS:
            raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
        await self.settings.put_code_signing_config(
            stored["CodeSigningConfigId"], {**stored, "Tags": merged}
        )

    async def untag(self, arn: str, keys: list[str]) -> None:
        stored = await self._existing(arn)
        if not keys:
            raise ValidationException(_null("tagKeys"))
        kept = {k: v for k, v in (stored.get("Tags") or {}).items() if k not in keys}
        await self.settings.put_code_signing_config(
            stored["CodeSigningConfigId"], {**stored, "Tags": kept or None}
        )

    async def list_tags(self, arn: str) -> dict[str, str]:
        return dict((await self._existing(arn)).get("Tags") or {})

    # -- a function's configuration ---------------------------------------------------------

    async def put_function(self, name_param: str, body: Mapping[str, Any]) -> dict[str, str]:
        name = self.registry.function_only(name_param)
        arn = body.get("CodeSigningConfigArn")
        if not isinstance(arn, str):
            raise ValidationException(_null(_ARN_MEMBER))
        config_id = await self._usable(arn)
        await self.registry.existing(name)
        await self.settings.set_function_code_signing(name, config_id)
        return {"CodeSigningConfigArn": self._arn(config_id), "FunctionName": name}

    async def get_function(self, name_param: str) -> dict[str, str]:
        """The function's configuration; AWS answers an empty document when it has none."""
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        config_id = await self.settings.get_function_code_signing(name)
        if config_id is None:
            return {}
        return {"CodeSigningConfigArn": self._arn(config_id), "FunctionName": name}

    async def delete_function(self, name_param: str) -> None:
        name = self.registry.function_only(name_param)
        await self.registry.existing(name)
        await self.settings.set_function_code_signing(name, None)

    async def checked_for_create(self, value: object) -> str | None:
        """The configuration id CreateFunction's ``CodeSigningConfigArn`` names (checked before
        the function is created, so a bad one changes nothing), or None when not given."""
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ValidationException(_null(_ARN_MEMBER))
        return await self._usable(value)

    async def attach(self, name: str, config_id: str) -> None:
        await self.settings.set_function_code_signing(name, config_id)

    # -- helpers ---------------------------------------------------------------------------

    def _arn(self, config_id: str) -> str:
        return arns.code_signing_config_arn(self.registry.region, self.registry.account, config_id)

    async def _find(self, arn: str) -> dict[str, Any] | None:
        region, account, config_id = arns.parse_code_signing_config_arn(arn, _ARN_MEMBER)
        if (region, account) != (self.registry.region, self.registry.account):
            return None
        return await self.settings.get_code_signing_config(config_id)

    async def _existing(self, arn: str) -> dict[str, Any]:
        found = await self._find(arn)
        if found is None:
            raise ResourceNotFoundException(
                f"The Lambda code signing configuration {arn} can not be found.", typed=False
            )
        return found

    async def _usable(self, arn: str) -> str:
        """The id of a configuration a function may be given; AWS's 404 if it is gone."""
        found = await self._find(arn)
        if found is None:
            raise CodeSigningConfigNotFoundException(
                "The code signing configuration cannot be found. Check that the provided "
                f"configuration is not deleted: {arn}."
            )
        return str(found["CodeSigningConfigId"])


def _shown(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The CodeSigningConfig shape: what is stored, less the tags."""
    return {k: v for k, v in stored.items() if k != "Tags"}


def _publishers(value: object) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        raise ValidationException(_null("allowedPublishers"))
    arns_given = value.get("SigningProfileVersionArns")
    if not isinstance(arns_given, list):
        raise ValidationException(_null(_PUBLISHERS))
    shown = "[" + ", ".join(str(a) for a in arns_given) + "]"
    if not 1 <= len(arns_given) <= MAX_PUBLISHERS:
        bound = (
            "greater than or equal to 1"
            if not arns_given
            else f"less than or equal to {MAX_PUBLISHERS}"
        )
        raise ValidationException(
            arns.validation_message(shown, _PUBLISHERS, f"Member must have length {bound}")
        )
    for arn in arns_given:
        if not isinstance(arn, str) or not re.fullmatch(PUBLISHER_ARN_PATTERN, arn):
            raise ValidationException(
                arns.validation_message(
                    shown,
                    _PUBLISHERS,
                    "Member must satisfy constraint: [Member must have length less than or "
                    "equal to 10000, Member must have length greater than or equal to 0, Member "
                    f"must satisfy regular expression pattern: {PUBLISHER_ARN_PATTERN}, Member "
                    "must not be null]",
                )
            )
    return {"SigningProfileVersionArns": list(arns_given)}


def _policies(value: object) -> dict[str, str]:
    if value is None:
        return {"UntrustedArtifactOnDeployment": "Warn"}
    if not isinstance(value, Mapping):
        raise ValidationException("CodeSigningPolicies must be an object")
    policy = value.get("UntrustedArtifactOnDeployment", "Warn")
    if policy not in POLICIES:
        raise ValidationException(
            arns.validation_message(
                str(policy),
                "codeSigningPolicies.untrustedArtifactOnDeployment",
                f"Member must satisfy enum value set: [{', '.join(POLICIES)}]",
            )
        )
    return {"UntrustedArtifactOnDeployment": str(policy)}


def _description(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_LENGTH:
        raise ValidationException(
            arns.validation_message(
                str(value),
                "description",
                f"Member must have length less than or equal to {MAX_DESCRIPTION_LENGTH}",
            )
        )
    return value


def _limit(max_items: int | None) -> int:
    if max_items is not None and not 1 <= max_items <= 10000:
        bound = "greater than or equal to 1" if max_items < 1 else "less than or equal to 10000"
        raise ValidationException(
            arns.validation_message(str(max_items), "maxItems", f"Member must have value {bound}")
        )
    return min(max_items or MAX_LIST_ITEMS, MAX_LIST_ITEMS)


def _null(member: str) -> str:
    return (
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
        "Member must not be null"
    )


def _now() -> str:
    """AWS's LastModified format: ``2024-03-27T09:14:35.123+0000``."""
    ms = int(time.time() * 1000)
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"
