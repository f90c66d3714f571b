"""The settings of a function URL as the API takes them: AuthType, InvokeMode and Cors, checked.

Limits are the model's (botocore ``lambda``, shape ``Cors``): at most 100 allowed headers,
origins and exposed headers, at most 6 methods of at most 6 characters, origins of 1–253
characters, headers of at most 1,024, MaxAge 0–86,400 seconds. A breach is AWS's
ValidationException and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.arns import validation_message
from lamina.errors import ValidationException

MAX_AGE_S = 86_400
_LISTS = (
    # member, wire name, most items, shortest item, longest item
    ("AllowHeaders", "allowHeaders", 100, 0, 1024),
    ("AllowMethods", "allowMethods", 6, 0, 6),
    ("AllowOrigins", "allowOrigins", 100, 1, 253),
    ("ExposeHeaders", "exposeHeaders", 100, 0, 1024),
)
CORS_MEMBERS = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins",
                "ExposeHeaders", "MaxAge")  # fmt: skip


def auth_type(value: object) -> str:
    if value is None:
        raise ValidationException(
            "1 validation error detected: Value null at 'authType' failed to satisfy "
            "constraint: Member must not be null"
        )
    return _enum(value, "authType", ("AWS_IAM", "NONE"))


def invoke_mode(value: object) -> str:
    return _enum(value, "invokeMode", ("RESPONSE_STREAM", "BUFFERED"))


def cors(value: object) -> dict[str, Any] | None:
    """The Cors structure, checked, with only the members given, in the model's order."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationException(
            validation_message(str(value), "cors", "Member must be a structure")
        )
    checked: dict[str, Any] = {}
    for member in CORS_MEMBERS:
        if value.get(member) is not None:
            checked[member] = _member(member, value[member])
    return checked


def _member(member: str, value: object) -> Any:
    if member == "AllowCredentials":
        if not isinstance(value, bool):
            raise ValidationException(
                validation_message(str(value), "cors.allowCredentials", "Member must be a boolean")
            )
        return value
    if member == "MaxAge":
        return _max_age(value)
    for name, wire, most, shortest, longest in _LISTS:
        if name == member:
            return _strings(value, f"cors.{wire}", most, shortest, longest)
    raise AssertionError(member)


def _max_age(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationException(
            validation_message(str(value), "cors.maxAge", "Member must be an integer")
        )
    if value < 0:
        raise ValidationException(
            validation_message(
                str(value), "cors.maxAge", "Member must have value greater than or equal to 0"
            )
        )
    if value > MAX_AGE_S:
        raise ValidationException(
            validation_message(
                str(value),
                "cors.maxAge",
                f"Member must have value less than or equal to {MAX_AGE_S}",
            )
        )
    return value


def _strings(value: object, wire: str, most: int, shortest: int, longest: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationException(validation_message(str(value), wire, "Member must be a list"))
    shown = "[" + ", ".join(value) + "]"
    if len(value) > most:
        raise ValidationException(
            validation_message(shown, wire, f"Member must have length less than or equal to {most}")
        )
    for item in value:
        if len(item) > longest:
            raise ValidationException(
                validation_message(
                    shown,
                    wire,
                    "Member must satisfy constraint: [Member must have length less than or "
                    f"equal to {longest}]",
                )
            )
        if len(item) < shortest:
            raise ValidationException(
                validation_message(
                    shown,
                    wire,
                    "Member must satisfy constraint: [Member must have length greater than or "
                    f"equal to {shortest}]",
                )
            )
    return list(value)


def _enum(value: object, wire: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationException(
            validation_message(
                str(value), wire, f"Member must satisfy enum value set: [{', '.join(allowed)}]"
            )
        )
    return value
