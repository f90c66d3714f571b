"""The legacy InvokeAsync operation: 202 ``{"Status": 202}``, through the durable async queue."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ROLE, client_for, handler_zip, signed_request, unique_name, wait_active

RECORDER = """
import json, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    print("RECORD " + json.dumps({"id": context.aws_request_id,
                                  "version": context.function_version, "event": event}))
"""


def records(endpoint: str, name: str, count: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    """What the recorder function logged, once ``count`` records are there."""
    logs = client_for(endpoint, "logs")
    deadline = time.monotonic() + timeout_s
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        found = [json.loads(e["message"][7:]) for e in events if e["message"].startswith("RECORD ")]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{len(found)} of {count} records arrived")


def path(name: str) -> str:
    return f"/2014-11-13/functions/{name}/invoke-async/"


def test_invoke_async_answers_202_and_the_function_runs(
    lambda_client, lamina_server, make_function
):
    name = make_function(RECORDER)

    response = lambda_client.invoke_async(FunctionName=name, InvokeArgs=b'{"tag": "legacy"}')

    assert response["Status"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]
    [record] = records(lamina_server.endpoint, name, 1)
    assert record == {"id": request_id, "version": "$LATEST", "event": {"tag": "legacy"}}


def test_the_answer_is_a_json_status_document(lamina_server, make_function):
    name = make_function(RECORDER)

    response = signed_request(lamina_server.endpoint, "POST", path(name), b"{}")

    assert (response.status, response.json()) == (202, {"Status": 202})
    assert response.headers["x-amzn-requestid"]


def test_a_qualified_name_runs_that_version(lambda_client, lamina_server, make_function):
    name = make_function(RECORDER)
    version = lambda_client.publish_version(FunctionName=name)["Version"]

    lambda_client.invoke_async(FunctionName=f"{name}:{version}", InvokeArgs=b"{}")

    [record] = records(lamina_server.endpoint, name, 1)
    assert record["version"] == version


def test_invoke_async_of_an_unknown_function_is_404(lambda_client):
    name = unique_name()

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke_async(FunctionName=name, InvokeArgs=b"{}")

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["Error"]["Message"] == (
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"
    )


def test_a_body_that_is_not_json_is_refused(lamina_server, make_function):
    name = make_function(RECORDER)

    response = signed_request(lamina_server.endpoint, "POST", path(name), b"not json")

    assert response.status == 400
    assert response.headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_invoke_async_keeps_the_256_kb_limit(lamina_server, make_function):
    name = make_function(RECORDER)
    body = json.dumps({"pad": "x" * 262_144}).encode()

    response = signed_request(lamina_server.endpoint, "POST", path(name), body)

    assert response.status == 413
    assert response.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"


def test_another_account_needs_a_policy_to_invoke_async(start_server):
    other = "111111111111"
    server = start_server("--credentials", f"test:test,other:secret:{other}")
    owner = client_for(server.endpoint)
    stranger = _client(server.endpoint, "other", "secret")
    owner.create_function(
        FunctionName="shared", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(RECORDER)},
    )  # fmt: skip
    wait_active(owner, "shared")

    with pytest.raises(ClientError) as refused:
        stranger.invoke_async(FunctionName="shared", InvokeArgs=b"{}")
    owner.add_permission(
        FunctionName="shared", StatementId="other", Action="lambda:InvokeFunction", Principal=other
    )
    accepted = stranger.invoke_async(FunctionName="shared", InvokeArgs=b"{}")

    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert accepted["Status"] == 202


def test_an_accepted_event_runs_after_the_server_is_killed(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="durable", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(RECORDER)},
    )  # fmt: skip
    wait_active(client, "durable")

    accepted = client.invoke_async(FunctionName="durable", InvokeArgs=b'{"sleep": 2}')
    server.stop(signal.SIGKILL)
    server.start()

    request_id = accepted["ResponseMetadata"]["RequestId"]
    assert request_id in {r["id"] for r in records(server.endpoint, "durable", 1)}


def _client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip
