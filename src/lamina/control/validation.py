"""Checks on function settings, each raising the error AWS raises for that input.

Pattern and enum failures of the API model are ``ValidationException`` ("1 validation error
detected: …"); range and semantic failures are ``InvalidParameterValueException``. Every check
runs before anything is stored, so a refused request changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lamina.arns import validation_message
from lamina.errors import InvalidParameterValueException, ValidationException
from lamina.runtimes import DEPRECATED_RUNTIMES, KNOWN_RUNTIMES, RuntimeCatalog

ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
HANDLER_PATTERN = r"[^\s]+"
ENV_KEY_PATTERN = r"[a-zA-Z]([a-zA-Z0-9_])+"
LOG_GROUP_PATTERN = r"[\.\-_/#A-Za-z0-9]+"
MAX_ENVIRONMENT_BYTES = 4096
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
        "_AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_PORT",
    }
)  # fmt: skip
ARCHITECTURES = ("x86_64", "arm64")
TRACING_MODES = ("Active", "PassThrough")
LOG_FORMATS = ("Text", "JSON")


def _pattern_error(value: object, member: str, pattern: str) -> ValidationException:
    return ValidationException(
        validation_message(
            str(value), member, f"Member must satisfy regular expression pattern: {pattern}"
        )
    )


def check_runtime(runtime: object, catalog: RuntimeCatalog) -> str:
    if not isinstance(runtime, str) or runtime not in KNOWN_RUNTIMES:
        raise InvalidParameterValueException(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{', '.join(KNOWN_RUNTIMES)}] or be a valid ARN"
        )
    if runtime in DEPRECATED_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions."
        )
    if runtime not in catalog:
        available = ", ".join(catalog.available()) or "none"
        raise InvalidParameterValueException(
            f"The runtime {runtime} is not available on this lamina server: no interpreter for "
            f"it was found on the host. Available runtimes: {available}."
        )
    return runtime


def check_role(role: object) -> str:
    if not isinstance(role, str) or not re.fullmatch(ROLE_PATTERN, role):
        raise _pattern_error(role, "role", ROLE_PATTERN)
    return role


def check_handler(handler: object) -> str:
    if not isinstance(handler, str) or len(handler) > 128:
        raise ValidationException(
            validation_message(
                str(handler), "handler", "Member must have length less than or equal to 128"
            )
        )
    if not re.fullmatch(HANDLER_PATTERN, handler):
        raise _pattern_error(handler, "handler", HANDLER_PATTERN)
    return handler


def check_int_range(value: object, member: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationException(
            validation_message(str(value), member, "Member must be an integer")
        )
    if value < low:
        constraint = f"Member must have value greater than or equal to {low}"
    elif value > high:
        constraint = f"Member must have value less than or equal to {high}"
    else:
        return value
    raise InvalidParameterValueException(validation_message(str(value), member, constraint))


def check_memory(value: object) -> int:
    return check_int_range(value, "memorySize", 128, 10240)


def check_timeout(value: object) -> int:
    return check_int_range(value, "timeout", 1, 900)


def check_ephemeral_storage(value: object) -> int:
    if not isinstance(value, Mapping):
        raise ValidationException("EphemeralStorage must be an object with a Size")
    return check_int_range(value.get("Size"), "ephemeralStorage.size", 512, 10240)


def check_description(value: object) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise ValidationException(
            validation_message(
                str(value), "description", "Member must have length less than or equal to 256"
            )
        )
    return value


def check_environment(value: object) -> dict[str, str]:
    """Validate ``Environment`` ({"Variables": {...}}) and return the variables."""
    if not isinstance(value, Mapping):
        raise ValidationException("Environment must be an object")
    variables = value.get("Variables") or {}
    if not isinstance(variables, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ValidationException("Environment.Variables must map strings to strings")
    if any(not re.fullmatch(ENV_KEY_PATTERN, key) for key in variables):
        raise ValidationException(
            "1 validation error detected: Value at 'environment.variables' failed to satisfy "
            "constraint: Map keys must satisfy constraint: [Member must satisfy regular "
            f"expression pattern: {ENV_KEY_PATTERN}]"
        )
    reserved = sorted(k for k in variables if k in RESERVED_ENV_KEYS)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            f"supported for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured
        )
    return dict(variables)


def check_architectures(value: object) -> tuple[str, ...]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 1
        or value[0] not in ARCHITECTURES
    ):
        raise ValidationException(
            validation_message(
                str(value),
                "architectures",
                "Member must have length less than or equal to 1, and every member must satisfy "
                f"enum value set: [{', '.join(ARCHITECTURES)}]",
            )
        )
    return (str(value[0]),)


def check_tracing(value: object) -> str:
    mode = value.get("Mode") if isinstance(value, Mapping) else None
    if mode not in TRACING_MODES:
        raise ValidationException(
            validation_message(
                str(mode),
                "tracingConfig.mode",
                f"Member must satisfy enum value set: [{', '.join(TRACING_MODES)}]",
            )
        )
    return str(mode)


SNAP_START_APPLY_ON = ("PublishedVersions", "None")
SNAP_START_RUNTIMES = frozenset(
    {"python3.12", "python3.13", "python3.14", "java11", "java17", "java21", "java25",
     "dotnet8", "dotnet10"}
)  # fmt: skip
"""The runtimes AWS offers SnapStart for (Python 3.12 and later, Java 11 and later, .NET 8 and
later); lamina runs the Python ones."""
SNAP_START_MAX_EPHEMERAL_MB = 512


def check_snap_start(value: object) -> str:
    """``SnapStart: {"ApplyOn": …}`` → the ApplyOn value."""
    apply_on = value.get("ApplyOn", "None") if isinstance(value, Mapping) else None
    if apply_on not in SNAP_START_APPLY_ON:
        raise ValidationException(
            validation_message(
                str(apply_on),
                "snapStart.applyOn",
                f"Member must satisfy enum value set: [{', '.join(SNAP_START_APPLY_ON)}]",
            )
        )
    return str(apply_on)


def check_snap_start_fits(apply_on: str, runtime: str, ephemeral_storage_mb: int) -> None:
    """SnapStart only where AWS offers it: its runtimes, /tmp of at most 512 MB."""
    if apply_on == "None":
        return
    if runtime not in SNAP_START_RUNTIMES:
        raise InvalidParameterValueException(
            f"{runtime} is not supported for SnapStart enabled functions."
        )
    if ephemeral_storage_mb > SNAP_START_MAX_EPHEMERAL_MB:
        raise InvalidParameterValueException(
            "SnapStart is not supported for functions with more than "
            f"{SNAP_START_MAX_EPHEMERAL_MB} MB of ephemeral storage."
        )


def check_logging(value: object) -> dict[str, Any]:
    """Validate ``LoggingConfig``; returns the FunctionConfig fields it sets."""
    if not isinstance(value, Mapping):
        raise ValidationException("LoggingConfig must be an object")
    fields: dict[str, Any] = {}
    if "LogFormat" in value:
        if value["LogFormat"] not in LOG_FORMATS:
            raise ValidationException(
                validation_message(
                    str(value["LogFormat"]),
                    "loggingConfig.logFormat",
                    f"Member must satisfy enum value set: [{', '.join(LOG_FORMATS)}]",
                )
            )
        if value["LogFormat"] == "JSON":
            raise InvalidParameterValueException(
                "lamina does not support the JSON log format yet; use LogFormat Text."
            )
        fields["log_format"] = value["LogFormat"]
    if "LogGroup" in value:
        group = value["LogGroup"]
        if (
            not isinstance(group, str)
            or not re.fullmatch(LOG_GROUP_PATTERN, group)
            or len(group) > 512
        ):
            raise _pattern_error(group, "loggingConfig.logGroup", LOG_GROUP_PATTERN)
        fields["log_group"] = group
    if value.get("ApplicationLogLevel") or value.get("SystemLogLevel"):
        raise InvalidParameterValueException(
            "To use log-level filtering, you must use the JSON log format, which lamina does "
            "not support yet."
        )
    return fields


KMS_KEY_ARN_PATTERN = r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"


def check_kms_key_arn(value: object) -> str | None:
    """An empty string clears the key, as on AWS."""
    if not isinstance(value, str) or not re.fullmatch(KMS_KEY_ARN_PATTERN, value):
        raise _pattern_error(value, "kMSKeyArn", KMS_KEY_ARN_PATTERN)
    return value or None


DEAD_LETTER_PATTERN = (
    r"arn:(aws[a-zA-Z-]*)?:([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
QUEUE_ARN_PATTERN = r"arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?"


def check_dead_letter(value: object) -> str | None:
    """``DeadLetterConfig``: an SQS queue ARN, or an empty TargetArn that removes it."""
    target = value.get("TargetArn") if isinstance(value, Mapping) else None
    if target in (None, ""):
        return None
    if not isinstance(target, str) or not re.fullmatch(DEAD_LETTER_PATTERN, target):
        raise _pattern_error(target, "deadLetterConfig.targetArn", DEAD_LETTER_PATTERN)
    if not re.fullmatch(QUEUE_ARN_PATTERN, target):
        raise InvalidParameterValueException(
            f"lamina supports SQS queues as dead-letter targets, not {target}."
        )
    return target
