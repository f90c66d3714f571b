"""The platform's own log lines, in the exact text AWS Lambda writes them."""

from __future__ import annotations

import re
import time


def init_start(runtime: str, runtime_version_arn: str) -> str:
    """``python3.12`` is labelled ``python:3.12``, ``nodejs20.x`` ``nodejs:20``, as AWS does."""
    found = re.fullmatch(r"(python)(\d+\.\d+)|(nodejs)(\d+)\.x", runtime)
    label = ":".join(g for g in found.groups() if g) if found else runtime
    return f"INIT_START Runtime Version: {label}.v1\tRuntime Version ARN: {runtime_version_arn}"


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
) -> str:
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
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
