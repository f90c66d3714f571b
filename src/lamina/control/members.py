"""Request members that need decoding or refusing before the registry acts on them.

The zip package (base64 in JSON, with AWS's size limit), tags, ListFunctions markers, and the
settings of features lamina does not have yet, which are refused loudly instead of ignored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from lamina.errors import (
    InvalidParameterValueException,
    RequestEntityTooLargeException,
    ValidationException,
)

MAX_ZIPPED_BYTES = 52_428_800
_S3_CODE = "lamina does not support code stored in Amazon S3 yet; upload the package as ZipFile."
_IMAGES = "lamina does not support container images yet."


def tags(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationException("Tags must map strings to strings")
    if len(value) > 50:
        raise InvalidParameterValueException("Number of tags exceeds resource tag limit.")
    return dict(value) or None


def zip_package(code: object) -> bytes:
    """The package from CreateFunction's ``Code`` or UpdateFunctionCode's body (same members)."""
    if not isinstance(code, Mapping):
        raise InvalidParameterValueException("Code is required: provide the package as ZipFile.")
    if code.get("S3Bucket") or code.get("S3Key") or code.get("S3ObjectVersion"):
        raise InvalidParameterValueException(_S3_CODE)
    if code.get("ImageUri"):
        raise InvalidParameterValueException(_IMAGES)
    encoded = code.get("ZipFile")
    if not isinstance(encoded, str) or not encoded:
        raise InvalidParameterValueException("Please provide a source for function code.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from exc
    if len(data) > MAX_ZIPPED_BYTES:
        raise RequestEntityTooLargeException(
            f"Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes"
        )
    return data


_UNSUPPORTED = {
    "FileSystemConfigs": "file systems",
    "ImageConfig": "container images",
}


def refuse_unsupported(body: Mapping[str, Any]) -> None:
    """Refuse, loudly, settings lamina would otherwise have to ignore."""
    for member, feature in _UNSUPPORTED.items():
        value = body.get(member)
        if value and not (isinstance(value, Mapping) and not any(value.values())):
            raise InvalidParameterValueException(
                f"lamina does not support {feature} ({member}) yet."
            )
    if body.get("PackageType") not in (None, "Zip"):
        raise InvalidParameterValueException("lamina does not support container images yet.")
    vpc = body.get("VpcConfig")
    if isinstance(vpc, Mapping) and (vpc.get("SubnetIds") or vpc.get("SecurityGroupIds")):
        raise InvalidParameterValueException("lamina does not support VPC configuration yet.")


def encode_marker(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if not marker:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameterValueException(f"Invalid marker: {marker}") from exc
