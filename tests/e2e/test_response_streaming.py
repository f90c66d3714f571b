"""InvokeWithResponseStream end to end: boto3 reads the event stream as the function writes it.

Node.js handlers wrapped in ``awslambda.streamifyResponse`` (tests/functions/node/streaming.js)
and Python functions (which cannot stream on AWS: their whole response is one chunk). Custom
runtimes are in test_runtime_api_streaming.py, function URLs in
test_function_url_streaming.py.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import MakeFunction, invoke, unique_name


def stream(
    client: Any, name: str, event: Any = None, **kwargs: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Invoke with a response stream; the response and every event of its stream, in order."""
    response = client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs
    )
    return response, list(response["EventStream"])


def payload(events: list[dict[str, Any]]) -> bytes:
    return b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)


def complete(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert "InvokeComplete" in events[-1], events[-1]
    return dict(events[-1]["InvokeComplete"])


@pytest.fixture
def streaming(make_node: MakeFunction) -> str:
    return make_node(file="streaming.js", handler="streaming.chunks")


# -- Node.js: chunks as they are written ---------------------------------------------------------


def test_each_write_arrives_as_its_own_payload_chunk_then_invoke_complete(lambda_client, streaming):
    response, events = stream(lambda_client, streaming, {"parts": ["Hello", "serverless", "world"]})

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    assert events == [
        {"PayloadChunk": {"Payload": b"Hello"}},
        {"PayloadChunk": {"Payload": b"serverless"}},
        {"PayloadChunk": {"Payload": b"world"}},
        {"InvokeComplete": {}},
    ]


def _environment_tmp(token: str, timeout_s: float = 30.0) -> Path:
    """The /tmp of the environment whose function wrote ``ready-<token>`` there (seen from the
    host through /proc/<pid>/root: the test runs as root)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            tmp = entry / "root" / "tmp"
            try:
                if entry.name.isdigit() and (tmp / f"ready-{token}").exists():
                    return tmp
            except OSError:
                continue
        time.sleep(0.01)
    raise AssertionError(f"no environment wrote ready-{token}")


def test_a_chunk_reaches_the_client_before_the_function_writes_the_next(lambda_client, make_node):
    # Given a function that writes "one", then writes "two" only once the test, having
    # received "one", lets it (a file in the environment's /tmp)
    name = make_node(file="streaming.js", handler="streaming.handshake", Timeout=60)
    token = uuid.uuid4().hex
    response = lambda_client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"token": token})
    )
    events = iter(response["EventStream"])

    # When the client reads the first event
    first = next(events)

    # Then it is "one", which the function wrote while "two" was still unwritten
    assert first == {"PayloadChunk": {"Payload": b"one"}}
    (_environment_tmp(token) / f"go-{token}").write_text("")
    assert list(events) == [{"PayloadChunk": {"Payload": b"two"}}, {"InvokeComplete": {}}]


def test_a_pipeline_into_the_response_stream_is_streamed(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.piped")

    _, events = stream(lambda_client, name)

    assert payload(events) == b"a,b\n1,2\n3,4\n"
    assert complete(events) == {}


def test_a_streamed_response_larger_than_six_mb_is_delivered_whole(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.large", MemorySize=512, Timeout=60)

    _, events = stream(lambda_client, name, {"megabytes": 8})

    assert payload(events) == b"x" * (8 * 1024 * 1024)
    assert complete(events) == {}


# -- failures ------------------------------------------------------------------------------------


def test_an_error_after_some_chunks_ends_the_stream_with_its_error(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.failsMidStream")

    response, events = stream(lambda_client, name)

    assert response["StatusCode"] == 200
    assert payload(events) == b"partial "
    assert complete(events) == {"ErrorCode": "TypeError", "ErrorDetails": "broke mid-stream"}


def test_a_timeout_mid_stream_ends_the_stream_with_sandbox_timedout(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.neverEnds", Timeout=1)

    _, events = stream(lambda_client, name, LogType="Tail")

    assert payload(events) == b"before the timeout"
    done = complete(events)
    assert done["ErrorCode"] == "Sandbox.Timedout"
    assert done["ErrorDetails"].endswith("Task timed out after 1.00 seconds")
    log = base64.b64decode(done["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in log
    assert "REPORT RequestId:" in log and "Status: timeout" in log


def test_the_environment_after_a_timeout_mid_stream_serves_the_next_invocation(
    lambda_client, make_node
):
    name = make_node(file="streaming.js", handler="streaming.neverEnds", Timeout=1)
    stream(lambda_client, name)

    _, events = stream(lambda_client, name)

    assert payload(events) == b"before the timeout"
    assert complete(events)["ErrorCode"] == "Sandbox.Timedout"


def test_a_streaming_handler_that_is_not_async_is_an_error(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.notAsync")

    _, events = stream(lambda_client, name)

    assert complete(events) == {
        "ErrorCode": "Error",
        "ErrorDetails": "Streaming does not support non-async handlers.",
    }


def test_unknown_function_is_resource_not_found_before_any_stream(lambda_client):
    name = unique_name()

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke_with_response_stream(FunctionName=name, Payload=b"{}")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"].startswith("Function not found: arn:aws:lambda:")


def test_a_payload_that_is_not_json_is_rejected(lambda_client, streaming):
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke_with_response_stream(FunctionName=streaming, Payload=b"not json")

    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_an_unknown_invocation_type_is_a_validation_error(raw_lambda_client, streaming):
    with pytest.raises(ClientError) as raised:
        raw_lambda_client.invoke_with_response_stream(
            FunctionName=streaming, Payload=b"{}", InvocationType="Event"
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "[RequestResponse, DryRun]" in raised.value.response["Error"]["Message"]


def test_throttled_invocation_is_too_many_requests(lambda_client, streaming):
    lambda_client.put_function_concurrency(FunctionName=streaming, ReservedConcurrentExecutions=0)

    with pytest.raises(ClientError) as raised:
        lambda_client.invoke_with_response_stream(FunctionName=streaming, Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"


# -- parameters ----------------------------------------------------------------------------------


def test_dry_run_validates_without_running(lambda_client, streaming):
    response, events = stream(lambda_client, streaming, {"parts": ["x"]}, InvocationType="DryRun")

    assert response["StatusCode"] == 204
    assert events == []


def test_dry_run_of_unknown_function_is_resource_not_found(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke_with_response_stream(
            FunctionName=unique_name(), Payload=b"{}", InvocationType="DryRun"
        )

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_qualifier_runs_that_version_and_names_it(lambda_client, streaming):
    version = lambda_client.publish_version(FunctionName=streaming)["Version"]
    lambda_client.create_alias(FunctionName=streaming, Name="live", FunctionVersion=version)

    by_version, events = stream(lambda_client, streaming, {"parts": ["v"]}, Qualifier=version)
    by_alias, _ = stream(lambda_client, streaming, {"parts": ["a"]}, Qualifier="live")

    assert (by_version["ExecutedVersion"], by_alias["ExecutedVersion"]) == (version, version)
    assert payload(events) == b"v"


def test_log_type_tail_returns_the_log_in_invoke_complete(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.contextFields")

    _, events = stream(lambda_client, name, LogType="Tail")

    body = json.loads(payload(events))
    log = base64.b64decode(complete(events)["LogResult"]).decode()
    assert f"START RequestId: {body['requestId']}" in log
    assert f"streaming with {body['requestId']}" in log
    assert f"REPORT RequestId: {body['requestId']}" in log


def test_client_context_reaches_a_streaming_handler(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.contextFields")
    custom = {"custom": {"k": "v"}}
    encoded = base64.b64encode(json.dumps(custom).encode()).decode()

    _, events = stream(lambda_client, name, ClientContext=encoded)

    body = json.loads(payload(events))
    assert body["clientContext"] == custom
    assert body["remaining"] is True
    assert body["arn"].endswith(f":function:{name}")


def test_a_plain_invoke_of_a_streaming_function_gets_the_whole_response(lambda_client, streaming):
    response = lambda_client.invoke(
        FunctionName=streaming, Payload=json.dumps({"parts": ["Hello", " ", "world"]})
    )

    assert "FunctionError" not in response
    assert response["Payload"].read() == b"Hello world"


def test_a_plain_invoke_of_a_streaming_function_over_six_mb_is_too_large(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.large", MemorySize=512, Timeout=60)

    response, body = invoke(lambda_client, name, {"megabytes": 7})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"


# -- Python: no streaming, the whole response as one chunk -----------------------------------------


def test_a_python_function_answers_its_whole_response_as_one_chunk(lambda_client, make_function):
    name = make_function(
        "def handler(event, context):\n    return {'echo': event, 'parts': [1, 2, 3]}\n"
    )

    response, events = stream(lambda_client, name, {"k": "v"})

    assert response["StatusCode"] == 200
    assert len(events) == 2
    assert json.loads(events[0]["PayloadChunk"]["Payload"]) == {
        "echo": {"k": "v"},
        "parts": [1, 2, 3],
    }
    assert events[1] == {"InvokeComplete": {}}


def test_a_python_function_error_is_in_invoke_complete(lambda_client, make_function):
    name = make_function("def handler(event, context):\n    raise KeyError('missing')\n")

    _, events = stream(lambda_client, name)

    assert events == [{"InvokeComplete": {"ErrorCode": "KeyError", "ErrorDetails": "'missing'"}}]


def test_buffered_invoke_is_unchanged(lambda_client, make_function):
    name = make_function("def handler(event, context):\n    return {'echo': event}\n")

    response, body = invoke(lambda_client, name, {"k": 1})

    assert response["StatusCode"] == 200
    assert body == {"echo": {"k": 1}}
    assert "FunctionError" not in response


def test_an_uncaught_exception_mid_stream_ends_the_stream_and_the_environment(
    lambda_client, make_node
):
    name = make_node(file="streaming.js", handler="streaming.crashes")

    _, events = stream(lambda_client, name)
    _, again = stream(lambda_client, name)

    assert payload(events) == b"before the crash"
    assert complete(events) == {"ErrorCode": "RangeError", "ErrorDetails": "uncaught in a timer"}
    assert complete(again)["ErrorCode"] == "RangeError"  # a new environment ran it again


def test_a_handler_that_returns_without_ending_the_stream_is_an_error(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.unfinished")

    _, events = stream(lambda_client, name)

    assert payload(events) == b"never ended"
    assert complete(events) == {
        "ErrorCode": "Error",
        "ErrorDetails": "Response stream is not finished.",
    }


def test_binary_writes_arrive_unchanged_and_objects_as_json(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.binary")

    _, events = stream(lambda_client, name)

    assert payload(events) == bytes([0, 1, 2, 255, 254, 128, 0]) + b'{"as":"json"}'
