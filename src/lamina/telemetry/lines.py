"""The platform's own log lines, in the exact text AWS Lambda writes them."""

from __future__ import annotations

import re
import time


def init_start(runtime: str, runtime_version_arn: str) -> str:
    """``python3.12`` is labelled ``python:3.12``, ``nodejs20.x`` ``nodejs:20``, as AWS does."""
    return f"INIT_START {_runtime_version(runtime, runtime_version_arn)}"


def restore_start(runtime: str, runtime_version_arn: str) -> str:
    """The first line of an environment restored from a SnapStart snapshot."""
    return f"RESTORE_START {_runtime_version(runtime, runtime_version_arn)}"


def _runtime_version(runtime: str, runtime_version_arn: str) -> str:
    found = re.fullmatch(r"(python)(\d+\.\d+)|(nodejs)(\d+)\.x", runtime)
    label = ":".join(g for g in found.groups() if g) if found else runtime
    return f"Runtime Version: {label}.v1\tRuntime Version ARN: {runtime_version_arn}"


def restore_report(
    duration_ms: float, status: str | None = None, error_type: str | None = None
) -> str:
    """``RESTORE_REPORT Restore Duration: 511.25 ms``, with AWS's Status and Error Type when
    the restore failed."""
    fields = [f"RESTORE_REPORT Restore Duration: {duration_ms:.2f} ms"]
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type is not None:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)


def snapshot_init_report(duration_ms: float) -> str:
    """The init phase of a SnapStart version (at publish) reports its duration on its own."""
    return f"INIT_REPORT Init Duration: {duration_ms:.2f} ms"


def start(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report(
    request_id: str,
    *,
    duration_ms: float,
    billed_ms: int,
    memory_mb: int,
    max_memory_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
    restore: tuple[float, int] | None = None,
) -> str:
    """``restore``: (Restore Duration, Billed Restore Duration) on a restored environment's
    first invocation."""
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if restore is not None:
        fields.append(f"Restore Duration: {restore[0]:.2f} ms")
        fields.append(f"Billed Restore Duration: {restore[1]} ms")
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type is not None:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields) + "\t"


def init_report(duration_ms: float, error_type: str) -> str:
    return (
        f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: init\tStatus: error"
        f"\tError Type: {error_type}"
    )


def timed_out(request_id: str, timeout_s: float, now: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}Z {request_id} Task timed out after {timeout_s:.2f} seconds"


def stream_name(version: str, environment_id: str, now: float | None = None) -> str:
    """``YYYY/MM/DD/[$LATEST]<32 hex>``: one stream per execution environment."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if now is None else now))
    return f"{day}/[{version}]{environment_id}"
