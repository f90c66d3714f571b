"""Operations of botocore's ``lambda`` model that lamina does not serve yet.

Generated from botocore 1.44.5's service model. A request for one of them gets a clear
``NotImplementedException`` naming the operation, instead of a puzzling 404.
"""

from __future__ import annotations

import re

_OPERATIONS: list[tuple[str, str, str, str]] = [
    (
        "POST",
        r"/2025-12-01/durable-executions/[^/]+/checkpoint/?",
        "CheckpointDurableExecution",
        "",
    ),
    ("POST", r"/2025-11-30/capacity-providers/?", "CreateCapacityProvider", ""),
    ("POST", r"/2015-03-31/event-source-mappings/?", "CreateEventSourceMapping", ""),
    ("DELETE", r"/2025-11-30/capacity-providers/[^/]+/?", "DeleteCapacityProvider", ""),
    ("DELETE", r"/2025-12-01/durable-executions/[^/]+/?", "DeleteDurableExecution", ""),
    ("DELETE", r"/2015-03-31/event-source-mappings/[^/]+/?", "DeleteEventSourceMapping", ""),
    ("DELETE", r"/2026-07-09/resource-policy/[^/]+/?", "DeleteResourcePolicy", ""),
    ("GET", r"/2025-11-30/capacity-providers/[^/]+/?", "GetCapacityProvider", ""),
    ("GET", r"/2025-12-01/durable-executions/[^/]+/?", "GetDurableExecution", ""),
    ("GET", r"/2025-12-01/durable-executions/[^/]+/history/?", "GetDurableExecutionHistory", ""),
    ("GET", r"/2025-12-01/durable-executions/[^/]+/state/?", "GetDurableExecutionState", ""),
    ("GET", r"/2015-03-31/event-source-mappings/[^/]+/?", "GetEventSourceMapping", ""),
    (
        "GET",
        r"/2025-11-30/functions/[^/]+/function-scaling-config/?",
        "GetFunctionScalingConfig",
        "",
    ),
    ("GET", r"/2026-07-09/resource-policy/[^/]+/?", "GetResourcePolicy", ""),
    ("GET", r"/2025-11-30/capacity-providers/?", "ListCapacityProviders", ""),
    (
        "GET",
        r"/2025-12-01/functions/[^/]+/durable-executions/?",
        "ListDurableExecutionsByFunction",
        "",
    ),
    ("GET", r"/2015-03-31/event-source-mappings/?", "ListEventSourceMappings", ""),
    (
        "GET",
        r"/2025-11-30/capacity-providers/[^/]+/function-versions/?",
        "ListFunctionVersionsByCapacityProvider",
        "",
    ),
    ("POST", r"/2025-12-01/durable-executions/[^/]+/pause/?", "PauseDurableExecution", ""),
    (
        "PUT",
        r"/2025-11-30/functions/[^/]+/function-scaling-config/?",
        "PutFunctionScalingConfig",
        "",
    ),
    ("PUT", r"/2026-07-09/resource-policy/[^/]+/?", "PutResourcePolicy", ""),
    ("POST", r"/2025-12-01/durable-executions/[^/]+/resume/?", "ResumeDurableExecution", ""),
    (
        "POST",
        r"/2025-12-01/durable-execution-callbacks/[^/]+/fail/?",
        "SendDurableExecutionCallbackFailure",
        "",
    ),
    (
        "POST",
        r"/2025-12-01/durable-execution-callbacks/[^/]+/heartbeat/?",
        "SendDurableExecutionCallbackHeartbeat",
        "",
    ),
    (
        "POST",
        r"/2025-12-01/durable-execution-callbacks/[^/]+/succeed/?",
        "SendDurableExecutionCallbackSuccess",
        "",
    ),
    ("POST", r"/2025-12-01/durable-executions/[^/]+/stop/?", "StopDurableExecution", ""),
    ("PUT", r"/2025-11-30/capacity-providers/[^/]+/?", "UpdateCapacityProvider", ""),
    ("PUT", r"/2015-03-31/event-source-mappings/[^/]+/?", "UpdateEventSourceMapping", ""),
]

UNIMPLEMENTED = [
    (method, re.compile(pattern), operation, query)
    for method, pattern, operation, query in _OPERATIONS
]


def operation_for(method: str, path: str) -> str | None:
    """The name of the model operation this request is for, if lamina lacks it.

    Operations told apart only by their query string are named together.
    """
    names = [
        operation
        for op_method, pattern, operation, _query in UNIMPLEMENTED
        if op_method == method and pattern.fullmatch(path)
    ]
    return " or ".join(names) or None
