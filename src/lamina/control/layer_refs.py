"""Layer ARNs: parsing them, and turning a function's ``Layers`` member into references.

A function refers to up to five layer versions by ARN; each must exist when the function is
created or updated (later deleting the layer version does not affect the function, which
keeps what it needs in its ``LayerRef``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lamina.arns import validation_message
from lamina.errors import AccessDeniedException, InvalidParameterValueException, ValidationException
from lamina.model import LayerRef
from lamina.store import Store

MAX_LAYERS = 5
LAYER_VERSION_ARN_PATTERN = (
    r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)"
    r"|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
)
_LAYER_ARN = re.compile(
    r"arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>[0-9]+))?"
)
MAX_LAYER_ARN_LENGTH = 140


@dataclass(frozen=True)
class LayerArn:
    region: str
    account: str
    name: str
    version: int | None


def parse_layer_arn(value: str) -> LayerArn | None:
    """A layer or layer version ARN's parts, or None when ``value`` is not one."""
    match = _LAYER_ARN.fullmatch(value)
    if match is None:
        return None
    version = match["version"]
    return LayerArn(
        match["region"], match["account"], match["name"], int(version) if version else None
    )


def layer_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}"


def layer_version_arn(region: str, account: str, name: str, version: int) -> str:
    return f"{layer_arn(region, account, name)}:{version}"


async def resolve(store: Store, region: str, account: str, value: object) -> tuple[LayerRef, ...]:
    """The references for a ``Layers`` member, with AWS's errors for each kind of bad one."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValidationException(
            validation_message(str(value), "layers", "Member must be a list of layer ARNs")
        )
    if len(value) > MAX_LAYERS:
        raise InvalidParameterValueException("Cannot reference more than 5 layers.")
    refs: list[LayerRef] = []
    seen: dict[str, str] = {}
    for item in value:
        parsed = _parse_member(item)
        arn = str(item)
        if parsed.region != region:
            raise InvalidParameterValueException(
                "Layers are not in the same region as the function. "
                f"Layers are expected to be in region {region}."
            )
        if parsed.account != account:
            raise AccessDeniedException(
                f"User: arn:aws:iam::{account}:root is not authorized to perform: "
                f"lambda:GetLayerVersion on resource: {arn} because no resource-based policy "
                "allows the lambda:GetLayerVersion action"
            )
        unversioned = layer_arn(parsed.region, parsed.account, parsed.name)
        if unversioned in seen:
            raise InvalidParameterValueException(
                "Two different versions of the same layer are not allowed to be referenced in "
                f"the same function. {seen[unversioned]} and {arn} are versions of the same layer."
            )
        seen[unversioned] = arn
        assert parsed.version is not None
        layer = await store.get_layer_version(parsed.name, parsed.version)
        if layer is None:
            raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
        canonical = layer_version_arn(region, account, parsed.name, parsed.version)
        refs.append(LayerRef(canonical, layer.code_sha256, layer.code_size, layer.unzipped_size))
    return tuple(refs)


def _parse_member(item: object) -> LayerArn:
    parsed = parse_layer_arn(item) if isinstance(item, str) else None
    if (
        parsed is None
        or parsed.version is None
        or not isinstance(item, str)
        or len(item) > MAX_LAYER_ARN_LENGTH
    ):
        raise ValidationException(
            validation_message(
                f"[{item}]",
                "layers",
                "Member must satisfy constraint: [Member must have length less than or equal to "
                f"{MAX_LAYER_ARN_LENGTH}, Member must have length greater than or equal to 1, "
                f"Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}, "
                "Member must not be null]",
            )
        )
    return parsed
