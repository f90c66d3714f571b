"""Rendering stored values in the exact shapes of botocore's ``lambda`` model, as AWS fills them."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from lamina import arns
from lamina.control import FunctionView
from lamina.model import FunctionConfig


def last_modified(ms: int) -> str:
    """AWS's LastModified format: ``2024-03-27T09:14:35.123+0000``."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"


def code_sha256(config: FunctionConfig) -> str:
    return base64.b64encode(bytes.fromhex(config.code_sha256)).decode()


def function_configuration(
    view: FunctionView, region: str, *, listing: bool = False
) -> dict[str, Any]:
    """FunctionConfiguration; ListFunctions entries omit the state fields, as on AWS."""
    c = view.config
    doc: dict[str, Any] = {
        "FunctionName": c.name,
        "FunctionArn": view.arn,
        "Runtime": c.runtime,
        "Role": c.role,
        "Handler": c.handler,
        "CodeSize": c.code_size,
        "Description": c.description,
        "Timeout": c.timeout_s,
        "MemorySize": c.memory_mb,
        "LastModified": last_modified(c.last_modified_ms),
        "CodeSha256": code_sha256(c),
        "Version": c.version,
    }
    if c.environment is not None:
        doc["Environment"] = {"Variables": dict(c.environment)}
    if c.layers:
        doc["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in c.layers]
    if c.dead_letter_target_arn:
        doc["DeadLetterConfig"] = {"TargetArn": c.dead_letter_target_arn}
    if c.kms_key_arn:
        doc["KMSKeyArn"] = c.kms_key_arn
    doc["TracingConfig"] = {"Mode": c.tracing_mode}
    doc["RevisionId"] = c.revision_id
    if not listing:
        doc.update(_state_fields(c))
    doc["PackageType"] = "Zip"
    doc["Architectures"] = list(c.architectures)
    doc["EphemeralStorage"] = {"Size": c.ephemeral_storage_mb}
    doc["SnapStart"] = {
        "ApplyOn": c.snap_start_apply_on,
        "OptimizationStatus": "On" if c.snap_start_optimized else "Off",
    }
    if not listing:
        digest = hashlib.sha256(c.runtime.encode()).hexdigest()
        doc["RuntimeVersionConfig"] = {
            "RuntimeVersionArn": arns.runtime_version_arn(region, digest)
        }
    logging_config: dict[str, Any] = {"LogFormat": c.log_format, "LogGroup": c.log_group_name}
    doc["LoggingConfig"] = logging_config
    return doc


def _state_fields(c: FunctionConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {"State": c.state.value}
    if c.state_reason:
        doc["StateReason"] = c.state_reason
    if c.state_reason_code:
        doc["StateReasonCode"] = c.state_reason_code
    if c.last_update_status is not None:
        doc["LastUpdateStatus"] = c.last_update_status.value
    if c.last_update_status_reason:
        doc["LastUpdateStatusReason"] = c.last_update_status_reason
    if c.last_update_status_reason_code:
        doc["LastUpdateStatusReasonCode"] = c.last_update_status_reason_code
    return doc
