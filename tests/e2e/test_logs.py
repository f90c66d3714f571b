"""Function logs: AWS's group and stream names and lines, read through the CloudWatch Logs API."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

PRINTING_HANDLER = """
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
print("module loaded")

def handler(event, context):
    print("hello from", event["who"])
    logger.info("info line")
    return "ok"
"""

STREAM_NAME = re.compile(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")


def _messages(logs_client: Any, group: str, expected: str, timeout_s: float = 5.0) -> list[str]:
    """Every message of the group, once one containing ``expected`` has arrived."""
    deadline = time.monotonic() + timeout_s
    while True:
        events = logs_client.filter_log_events(logGroupName=group)["events"]
        messages = [e["message"] for e in events]
        if any(expected in m for m in messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.05)


def test_function_output_lands_in_its_log_group_framed_by_start_end_report(
    lambda_client, logs_client, make_function
):
    name = make_function(PRINTING_HANDLER)

    response = lambda_client.invoke(FunctionName=name, Payload=b'{"who": "test"}')
    request_id = response["ResponseMetadata"]["RequestId"]

    messages = _messages(logs_client, f"/aws/lambda/{name}", f"REPORT RequestId: {request_id}")
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert messages[start + 1] == "hello from test"
    assert re.fullmatch(
        rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\tinfo line",
        messages[start + 2],
    )
    assert messages[start + 3] == f"END RequestId: {request_id}"
    assert messages[start + 4].startswith(f"REPORT RequestId: {request_id}\tDuration: ")


def test_init_output_and_init_start_come_before_the_first_start(
    lambda_client, logs_client, make_function
):
    name = make_function(PRINTING_HANDLER)

    lambda_client.invoke(FunctionName=name, Payload=b'{"who": "a"}')

    messages = _messages(logs_client, f"/aws/lambda/{name}", "REPORT RequestId")
    assert messages[0].startswith("INIT_START Runtime Version: python:3.12")
    assert messages[1] == "module loaded"
    assert messages[2].startswith("START RequestId: ")


def test_report_line_has_aws_fields_and_init_duration_only_when_cold(
    lambda_client, logs_client, make_function
):
    name = make_function(PRINTING_HANDLER, MemorySize=256)

    for _ in range(2):
        lambda_client.invoke(FunctionName=name, Payload=b'{"who": "x"}')

    reports = [
        m
        for m in _messages(logs_client, f"/aws/lambda/{name}", "REPORT", timeout_s=2)
        if m.startswith("REPORT")
    ]
    pattern = (
        r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\t"
    )
    assert re.fullmatch(pattern + r"Init Duration: \d+\.\d\d ms\t", reports[0])
    assert re.fullmatch(pattern, reports[1])


def test_log_streams_are_named_per_environment_as_on_aws(lambda_client, logs_client, make_function):
    name = make_function(PRINTING_HANDLER)
    lambda_client.invoke(FunctionName=name, Payload=b'{"who": "x"}')

    streams = logs_client.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]

    assert len(streams) == 1
    assert STREAM_NAME.fullmatch(streams[0]["logStreamName"])
    assert streams[0]["lastEventTimestamp"] >= streams[0]["firstEventTimestamp"]


def test_get_log_events_pages_forward_with_tokens(lambda_client, logs_client, make_function):
    name = make_function(PRINTING_HANDLER)
    for i in range(3):
        lambda_client.invoke(FunctionName=name, Payload=b'{"who": "%d"}' % i)
    group = f"/aws/lambda/{name}"
    _messages(logs_client, group, "hello from 2")
    stream = logs_client.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]

    seen: list[str] = []
    request = {"logGroupName": group, "logStreamName": stream, "startFromHead": True, "limit": 4}
    for _ in range(50):
        page = logs_client.get_log_events(**request)
        if not page["events"]:
            break
        seen += [e["message"] for e in page["events"]]
        request["nextToken"] = page["nextForwardToken"]

    assert [m for m in seen if m.startswith("hello from")] == [f"hello from {i}" for i in range(3)]


def test_filter_pattern_selects_matching_events(lambda_client, logs_client, make_function):
    name = make_function(PRINTING_HANDLER)
    lambda_client.invoke(FunctionName=name, Payload=b'{"who": "needle"}')
    group = f"/aws/lambda/{name}"
    _messages(logs_client, group, "needle")

    events = logs_client.filter_log_events(logGroupName=group, filterPattern="needle")["events"]

    assert [e["message"] for e in events] == ["hello from needle"]


def test_reading_an_unknown_log_group_is_resource_not_found(logs_client):
    with pytest.raises(logs_client.exceptions.ResourceNotFoundException):
        logs_client.filter_log_events(logGroupName="/aws/lambda/never-existed-xyz")


def test_custom_log_group_from_logging_config_receives_the_logs(
    lambda_client, logs_client, make_function
):
    group = f"/custom/{time.time_ns()}"
    name = make_function(PRINTING_HANDLER, LoggingConfig={"LogFormat": "Text", "LogGroup": group})

    lambda_client.invoke(FunctionName=name, Payload=b'{"who": "custom"}')

    assert "hello from custom" in _messages(logs_client, group, "hello from custom")
