"""Function names, qualifiers and ARNs, parsed and built exactly as AWS does.

A ``FunctionName`` parameter may be a plain name (``my-fn``), a name with a qualifier
(``my-fn:prod``), a partial ARN (``123456789012:function:my-fn``) or a full ARN
(``arn:aws:lambda:us-east-1:123456789012:function:my-fn:1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.errors import ValidationException

FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
_FUNCTION_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(?P<account>\d{12}:)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?"
)
CODE_SIGNING_CONFIG_ARN_PATTERN = (
    r"arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"code-signing-config:csc-[a-z0-9]{17}"
)
_CODE_SIGNING_CONFIG_ARN = re.compile(
    r"arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?"
    r"-[a-z]+-\d{1}):(?P<account>\d{12}):code-signing-config:(?P<id>csc-[a-z0-9]{17})"
)
MAX_CODE_SIGNING_CONFIG_ARN_LENGTH = 200
QUALIFIER_PATTERN = r"(|[a-zA-Z0-9$_-]+)"
_QUALIFIER = re.compile(r"[a-zA-Z0-9$_-]*")
MAX_NAME_LENGTH = 64
MAX_QUALIFIER_LENGTH = 128


@dataclass(frozen=True)
class FunctionRef:
    """A parsed FunctionName parameter."""

    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None


def validation_message(value: str, member: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def parse_function_name(value: str, *, max_length: int = 170) -> FunctionRef:
    """Parse a FunctionName parameter; a malformed one is AWS's ValidationException."""
    if len(value) > max_length:
        raise ValidationException(
            validation_message(
                value, "functionName", f"Member must have length less than or equal to {max_length}"
            )
        )
    match = _FUNCTION_NAME.fullmatch(value)
    if match is None:
        raise ValidationException(
            validation_message(
                value,
                "functionName",
                f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
            )
        )
    region, account = match["region"], match["account"]
    return FunctionRef(
        name=match["name"],
        qualifier=match["qualifier"],
        region=region[:-1] if region else None,
        account=account[:-1] if account else None,
    )


def check_qualifier(qualifier: str) -> None:
    """Raise ValidationException for a qualifier AWS would refuse by its shape."""
    if len(qualifier) > MAX_QUALIFIER_LENGTH:
        raise ValidationException(
            validation_message(
                qualifier,
                "qualifier",
                f"Member must have length less than or equal to {MAX_QUALIFIER_LENGTH}",
            )
        )
    if not _QUALIFIER.fullmatch(qualifier):
        raise ValidationException(
            validation_message(
                qualifier,
                "qualifier",
                f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}",
            )
        )


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def runtime_version_arn(region: str, digest: str) -> str:
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def code_signing_config_arn(region: str, account: str, config_id: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:code-signing-config:{config_id}"


def parse_code_signing_config_arn(value: str, member: str) -> tuple[str, str, str]:
    """(region, account, id) of a code signing configuration ARN; AWS's ValidationException
    naming ``member`` when it is malformed."""
    if len(value) > MAX_CODE_SIGNING_CONFIG_ARN_LENGTH:
        raise ValidationException(
            validation_message(
                value,
                member,
                "Member must have length less than or equal to "
                f"{MAX_CODE_SIGNING_CONFIG_ARN_LENGTH}",
            )
        )
    match = _CODE_SIGNING_CONFIG_ARN.fullmatch(value)
    if match is None:
        raise ValidationException(
            validation_message(
                value,
                member,
                "Member must satisfy regular expression pattern: "
                + CODE_SIGNING_CONFIG_ARN_PATTERN,
            )
        )
    return match["region"], match["account"], match["id"]
