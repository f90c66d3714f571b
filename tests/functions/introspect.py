"""Reports what the function sees: its event, context object, environment and interpreter.

Must run on every managed Python runtime (3.9 and later).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "identity": _identity(context.identity),
            "client_context": _client_context(context.client_context),
        },
        "environ": dict(os.environ),
        "cwd": str(Path.cwd()),
        "task_files": sorted(p.name for p in Path(os.environ["LAMBDA_TASK_ROOT"]).iterdir()),
        "python": list(sys.version_info[:2]),
    }


def _identity(identity: Any) -> dict[str, Any] | None:
    if identity is None:
        return None
    return {
        "cognito_identity_id": identity.cognito_identity_id,
        "cognito_identity_pool_id": identity.cognito_identity_pool_id,
    }


def _client_context(client_context: Any) -> dict[str, Any] | None:
    if client_context is None:
        return None
    client = client_context.client
    return {
        "custom": client_context.custom,
        "env": client_context.env,
        "client": None
        if client is None
        else {
            "installation_id": client.installation_id,
            "app_title": client.app_title,
            "app_version_name": client.app_version_name,
            "app_version_code": client.app_version_code,
            "app_package_name": client.app_package_name,
        },
    }
