"""CloudWatch Logs' JSON API over lamina's log store, so ``aws logs`` and boto3 read function logs.

Served at ``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>``. Events are paged by their
store id, which doubles as the ``f/…`` and ``b/…`` tokens.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lamina.api.http import Request, Response, json_response
from lamina.errors import InvalidParameterValueException, LaminaError, ResourceNotFoundException
from lamina.telemetry import LogEvent, LogStream

if TYPE_CHECKING:
    from lamina.api.app import Services
    from lamina.telemetry import LogStore

TARGET_PREFIX = "Logs_20140328."
MAX_REQUEST_BYTES = 1 << 20
CONTENT_TYPE = "application/x-amz-json-1.1"


class InvalidParameterException(LaminaError):
    status = 400
    user_type = None


async def handle(services: Services, request: Request) -> Response:
    operation = request.headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
    handler = _OPERATIONS.get(operation)
    if handler is None:
        raise InvalidParameterValueException(f"lamina does not implement Logs.{operation}")
    body = await request.json(MAX_REQUEST_BYTES)
    doc = await handler(services.logs, body)
    response = json_response(doc)
    response.content_type = CONTENT_TYPE
    return response


async def describe_log_groups(logs: LogStore, body: dict[str, Any]) -> dict[str, Any]:
    limit = _limit(body, 50)
    groups = logs.groups(
        body.get("logGroupNamePrefix") or "", body.get("nextToken") or "", limit + 1
    )
    doc: dict[str, Any] = {
        "logGroups": [
            {
                "logGroupName": name,
                "creationTime": created,
                "metricFilterCount": 0,
                "arn": f"arn:aws:logs:::log-group:{name}:*",
                "storedBytes": 0,
            }
            for name, created in groups[:limit]
        ]
    }
    if len(groups) > limit:
        doc["nextToken"] = groups[limit - 1][0]
    return doc


async def describe_log_streams(logs: LogStore, body: dict[str, Any]) -> dict[str, Any]:
    group = _group(logs, body)
    streams = logs.streams(
        group,
        body.get("logStreamNamePrefix") or "",
        by_last_event=body.get("orderBy") == "LastEventTime",
        descending=bool(body.get("descending")),
    )
    start = int(body.get("nextToken") or 0)
    limit = _limit(body, 50)
    page = streams[start : start + limit]
    doc: dict[str, Any] = {"logStreams": [_stream(s) for s in page]}
    if start + limit < len(streams):
        doc["nextToken"] = str(start + limit)
    return doc


async def get_log_events(logs: LogStore, body: dict[str, Any]) -> dict[str, Any]:
    group = _group(logs, body)
    stream = str(body.get("logStreamName") or "")
    if not any(s.name == stream for s in logs.streams(group, stream)):
        raise ResourceNotFoundException("The specified log stream does not exist.")
    limit = _limit(body, 10000)
    token = body.get("nextToken") or ""
    start_ms, end_ms = body.get("startTime"), body.get("endTime")
    if token.startswith("f/") or (not token and body.get("startFromHead")):
        after = int(token[2:]) if token else 0
        events = logs.events(group, [stream], start_ms, end_ms, after_id=after, limit=limit)
    else:
        before = int(token[2:]) if token.startswith("b/") else None
        events = logs.events(
            group, [stream], start_ms, end_ms, before_id=before, limit=limit, newest_first=True
        )
        events.reverse()
    first = events[0].id if events else (int(token[2:]) if token[2:].isdigit() else 0)
    last = events[-1].id if events else first
    return {
        "events": [
            {"timestamp": e.timestamp_ms, "message": e.message, "ingestionTime": e.ingestion_ms}
            for e in events
        ],
        "nextForwardToken": f"f/{last}",
        "nextBackwardToken": f"b/{first}",
    }


async def filter_log_events(logs: LogStore, body: dict[str, Any]) -> dict[str, Any]:
    group = _group(logs, body)
    names = body.get("logStreamNames") or None
    if names is None and body.get("logStreamNamePrefix"):
        names = [s.name for s in logs.streams(group, body["logStreamNamePrefix"])] or ["\x00none"]
    limit = _limit(body, 10000)
    matches = _matcher(body.get("filterPattern") or "")
    after = int(body.get("nextToken") or 0)
    found: list[LogEvent] = []
    while len(found) < limit:
        batch = logs.events(
            group, names, body.get("startTime"), body.get("endTime"), after_id=after, limit=1000
        )
        if not batch:
            break
        after = batch[-1].id
        found.extend(e for e in batch if matches(e.message))
    found = found[:limit]
    doc: dict[str, Any] = {
        "events": [
            {
                "logStreamName": e.stream,
                "timestamp": e.timestamp_ms,
                "message": e.message,
                "ingestionTime": e.ingestion_ms,
                "eventId": str(e.id),
            }
            for e in found
        ],
        "searchedLogStreams": [],
    }
    if len(found) == limit:
        doc["nextToken"] = str(found[-1].id)
    return doc


async def delete_log_group(logs: LogStore, body: dict[str, Any]) -> dict[str, Any]:
    if not logs.delete_group(str(body.get("logGroupName"))):
        raise ResourceNotFoundException("The specified log group does not exist.")
    return {}


def _group(logs: LogStore, body: dict[str, Any]) -> str:
    group = body.get("logGroupName")
    if not isinstance(group, str) or not group:
        raise InvalidParameterException("logGroupName is required")
    if not logs.group_exists(group):
        raise ResourceNotFoundException("The specified log group does not exist.")
    return group


def _limit(body: dict[str, Any], default: int) -> int:
    value = body.get("limit", default)
    if not isinstance(value, int) or value < 1:
        raise InvalidParameterException("limit must be a positive integer")
    return min(value, default)


def _stream(s: LogStream) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "logStreamName": s.name,
        "creationTime": s.created_ms,
        "arn": f"arn:aws:logs:::log-group:{s.group}:log-stream:{s.name}",
        "storedBytes": s.stored_bytes,
    }
    if s.first_event_ms is not None:
        doc["firstEventTimestamp"] = s.first_event_ms
        doc["lastEventTimestamp"] = s.last_event_ms
        doc["lastIngestionTime"] = s.last_ingestion_ms
    return doc


def _matcher(pattern: str) -> Callable[[str], bool]:
    """CloudWatch's plain-text filter terms: all must occur, ``?x`` any of, ``-x`` none of."""
    try:
        terms = shlex.split(pattern)
    except ValueError:
        terms = pattern.split()
    required = [t for t in terms if not t.startswith(("?", "-"))]
    optional = [t[1:] for t in terms if t.startswith("?") and len(t) > 1]
    excluded = [t[1:] for t in terms if t.startswith("-") and len(t) > 1]

    def matches(message: str) -> bool:
        return (
            all(t in message for t in required)
            and (not optional or any(t in message for t in optional))
            and not any(t in message for t in excluded)
        )

    return matches


_OPERATIONS: dict[str, Callable[[LogStore, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "DeleteLogGroup": delete_log_group,
}
