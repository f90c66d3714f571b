"""Invoke end to end: invocation types, log tails, the context object, the function's
environment, the lifecycle of execution environments and payload limits.

Expected values are AWS's, as recorded in AWS-BEHAVIOUR.md (section 5). Raw HTTP is used where
the status, a header or the exact body on the wire matters.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    MakeFunction,
    RunningServer,
    client_for,
    invoke,
    request_id,
    signed_headers,
    tail,
    zip_files,
)

ACCOUNT = "000000000000"
REGION = "us-east-1"
SYNC_LIMIT = 6_291_456
EVENT_LIMIT = 1_048_576
RESPONSE_LIMIT = 6_291_556


def raw_invoke(
    server: RunningServer, name: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """POST to the Invoke route without boto3: status, lower-cased headers, body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        path = f"/2015-03-31/functions/{name}/invocations"
        signed = signed_headers(server.endpoint, "POST", path, body, headers)
        connection.request("POST", path, body=body, headers=signed)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture
def actions(make_function: MakeFunction) -> str:
    return make_function(file="actions.py")


@pytest.fixture
def introspect(make_function: MakeFunction) -> str:
    return make_function(file="introspect.py")


# -- invocation types ------------------------------------------------------------------------


def test_request_response_answers_200_with_the_handler_result(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "echo", "n": [1, "two"]})

    assert response["StatusCode"] == 200
    assert body == {"action": "echo", "n": [1, "two"]}
    assert response["ExecutedVersion"] == "$LATEST"


def test_handler_returning_none_gives_the_body_null(lamina_server, actions):
    status, _, body = raw_invoke(lamina_server, actions, b'{"action": "none"}')

    assert (status, body) == (200, b"null")


def test_response_request_id_is_the_context_request_id(lambda_client, introspect):
    response, body = invoke(lambda_client, introspect, {})

    assert body["context"]["aws_request_id"] == request_id(response)


def test_event_invocation_answers_202_with_an_empty_body(lamina_server, actions):
    status, headers, body = raw_invoke(
        lamina_server, actions, b'{"action": "echo"}', {"X-Amz-Invocation-Type": "Event"}
    )

    assert (status, body) == (202, b"")
    assert "x-amz-executed-version" not in headers


def log_messages(logs_client: Any, name: str, expected: str, timeout_s: float = 10.0) -> list[str]:
    """The function's log messages, once one of them is ``expected`` (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs_client.exceptions.ResourceNotFoundException:
            events = []  # the function has not run yet
        messages = [e["message"] for e in events]
        if expected in messages or time.monotonic() > deadline:
            return messages
        time.sleep(0.05)


def test_event_invocation_runs_the_function_with_the_202_request_id(
    lambda_client, logs_client, actions
):
    response = lambda_client.invoke(
        FunctionName=actions, InvocationType="Event", Payload=b'{"action": "announce"}'
    )

    expected = f"ran {request_id(response)}"
    assert expected in log_messages(logs_client, actions, expected)


def test_dry_run_answers_204_and_does_not_run_the_function(lambda_client, logs_client, actions):
    dry = lambda_client.invoke(
        FunctionName=actions, InvocationType="DryRun", Payload=b'{"action": "announce"}'
    )
    real, _ = invoke(lambda_client, actions, {"action": "announce"})

    messages = log_messages(logs_client, actions, f"ran {request_id(real)}")
    assert dry["StatusCode"] == 204
    assert dry["Payload"].read() == b""
    assert f"ran {request_id(dry)}" not in messages


def test_unknown_invocation_type_is_rejected_with_400(lamina_server, actions):
    status, headers, _ = raw_invoke(
        lamina_server, actions, b"{}", {"X-Amz-Invocation-Type": "Sometime"}
    )

    assert status == 400
    assert headers["x-amzn-errortype"] == "ValidationException"


def test_invoking_an_unknown_function_is_404(lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as caught:
        lambda_client.invoke(FunctionName="no-such-function-here")

    message = caught.value.response["Error"]["Message"]
    assert message.startswith(f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:")


# -- log tail --------------------------------------------------------------------------------


def test_tail_log_has_start_output_end_and_report_lines(lambda_client, actions):
    response, _ = invoke(
        lambda_client, actions, {"action": "print", "text": "hello from fn"}, LogType="Tail"
    )
    rid, log = request_id(response), tail(response)

    assert f"START RequestId: {rid} Version: $LATEST\nhello from fn\nEND RequestId: {rid}\n" in log
    assert re.search(
        rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB",
        log,
    )


def test_tail_log_keeps_at_most_the_last_4096_bytes(lambda_client, actions):
    text = "".join(f"line {i:05d} of chatter\n" for i in range(1000))
    response, _ = invoke(lambda_client, actions, {"action": "print", "text": text}, LogType="Tail")
    raw = base64.b64decode(response["LogResult"])

    assert len(raw) <= 4096
    assert "line 00999 of chatter" in raw.decode()
    assert f"REPORT RequestId: {request_id(response)}" in raw.decode()


LOGGING_HANDLER = """
import logging
import sys

logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    logger.info("through logging")
    print("through stderr", file=sys.stderr)
"""


def test_logging_module_lines_carry_level_time_and_request_id(lambda_client, make_function):
    name = make_function(LOGGING_HANDLER)
    response, _ = invoke(lambda_client, name, {}, LogType="Tail")

    assert re.search(
        rf"^\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id(response)}\t"
        r"through logging$",
        tail(response),
        re.MULTILINE,
    )


def test_stderr_output_is_in_the_log_tail(lambda_client, make_function):
    name = make_function(LOGGING_HANDLER)
    response, _ = invoke(lambda_client, name, {}, LogType="Tail")

    assert "\nthrough stderr\n" in tail(response)


def test_report_shows_the_configured_memory_size(lambda_client, make_function):
    name = make_function(file="actions.py", MemorySize=256)
    response, _ = invoke(lambda_client, name, {"action": "none"}, LogType="Tail")

    assert "\tMemory Size: 256 MB\t" in tail(response)


def test_init_duration_is_reported_only_on_the_cold_start(lambda_client, actions):
    cold, _ = invoke(lambda_client, actions, {"action": "none"}, LogType="Tail")
    warm, _ = invoke(lambda_client, actions, {"action": "none"}, LogType="Tail")

    assert re.search(r"\tInit Duration: [\d.]+ ms", tail(cold))
    assert "Init Duration" not in tail(warm)


def test_no_log_result_without_log_type_tail(lambda_client, actions):
    response, _ = invoke(lambda_client, actions, {"action": "none"})

    assert "LogResult" not in response


# -- context object --------------------------------------------------------------------------


def test_context_names_the_function_its_version_and_log_group(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})
    context = body["context"]

    assert (context["function_name"], context["function_version"]) == (introspect, "$LATEST")
    assert context["log_group_name"] == f"/aws/lambda/{introspect}"


def test_context_memory_limit_is_the_configured_size_as_a_string(lambda_client, make_function):
    default = make_function(file="introspect.py")
    larger = make_function(file="introspect.py", MemorySize=512)

    assert invoke(lambda_client, default, {})[1]["context"]["memory_limit_in_mb"] == "128"
    assert invoke(lambda_client, larger, {})[1]["context"]["memory_limit_in_mb"] == "512"


def test_invoked_function_arn_is_unqualified_without_a_qualifier(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})

    expected = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{introspect}"
    assert body["context"]["invoked_function_arn"] == expected


def test_invoked_function_arn_ends_in_latest_with_qualifier_latest(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {}, Qualifier="$LATEST")

    expected = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{introspect}:$LATEST"
    assert body["context"]["invoked_function_arn"] == expected


def test_log_stream_name_is_dated_and_names_the_environment(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})

    assert re.fullmatch(
        r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", body["context"]["log_stream_name"]
    )


def test_remaining_time_is_positive_and_within_the_timeout(lambda_client, make_function):
    name = make_function(file="introspect.py", Timeout=7)
    _, body = invoke(lambda_client, name, {})

    assert 0 < body["context"]["remaining_ms"] <= 7000


def test_context_has_an_identity_object(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})

    assert body["context"]["identity"] == {
        "cognito_identity_id": None,
        "cognito_identity_pool_id": None,
    }


def test_client_context_reaches_the_handler(lambda_client, introspect):
    sent = {
        "custom": {"tenant": "blue"},
        "env": {"platform": "test"},
        "client": {"installation_id": "inst-1", "app_title": "App"},
    }
    encoded = base64.b64encode(json.dumps(sent).encode()).decode()
    _, body = invoke(lambda_client, introspect, {}, ClientContext=encoded)
    received = body["context"]["client_context"]

    assert (received["custom"], received["env"]) == (sent["custom"], sent["env"])
    assert received["client"]["installation_id"] == "inst-1"
    assert received["client"]["app_title"] == "App"


def test_client_context_is_none_when_not_given(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})

    assert body["context"]["client_context"] is None


@pytest.mark.parametrize(
    "client_context",
    ["not base64 at all!", base64.b64encode(b"not json").decode()],
    ids=["not-base64", "not-json"],
)
def test_client_context_that_is_not_base64_json_is_rejected(
    lambda_client, introspect, client_context
):
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException) as caught:
        lambda_client.invoke(FunctionName=introspect, ClientContext=client_context)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- environment variables -------------------------------------------------------------------


def test_function_sees_the_variables_lambda_sets(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})
    environ, context = body["environ"], body["context"]

    assert {k: environ.get(k) for k in ("AWS_REGION", "AWS_DEFAULT_REGION", "TZ")} == {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "TZ": ":UTC",
    }
    assert {
        "AWS_LAMBDA_FUNCTION_NAME": introspect,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{introspect}",
        "AWS_LAMBDA_LOG_STREAM_NAME": context["log_stream_name"],
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": "handler.handler",
    }.items() <= environ.items()


def test_task_root_is_the_working_directory_and_runtime_dir_is_set(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})
    environ = body["environ"]

    assert environ["LAMBDA_TASK_ROOT"] == body["cwd"]
    assert "handler.py" in body["task_files"]
    assert environ["LAMBDA_RUNTIME_DIR"]


def test_user_variables_reach_the_function(lambda_client, make_function):
    variables = {"GREETING": "hello", "EMPTY_ONE": "", "WITH_SPACES": "a b  c"}
    name = make_function(file="introspect.py", Environment={"Variables": variables})
    _, body = invoke(lambda_client, name, {})

    assert variables.items() <= body["environ"].items()


def test_server_variables_do_not_leak_into_the_function(
    monkeypatch, start_server: Callable[..., RunningServer], make_function
):
    monkeypatch.setenv("LAMINA_IDLE_TIMEOUT", "300")
    monkeypatch.setenv("SERVER_ONLY_SECRET", "do-not-share")
    client = client_for(start_server().endpoint)
    name = make_function(file="introspect.py", client=client)
    _, body = invoke(client, name, {})
    environ = body["environ"]

    assert [k for k in environ if k.startswith("LAMINA_")] == []
    assert "SERVER_ONLY_SECRET" not in environ
    assert "PYTHONUNBUFFERED" not in environ


# -- lifecycle -------------------------------------------------------------------------------


def test_module_code_runs_once_per_environment(lambda_client, actions):
    counts = [invoke(lambda_client, actions, {"action": "count"})[1] for _ in range(3)]

    assert counts == [1, 2, 3]


def hold_together(endpoint: str, name: str, parties: int) -> list[str]:
    """``parties`` invocations at once, each from its own client; the environments that served."""
    clients = [client_for(endpoint) for _ in range(parties)]
    event = {"action": "hold", "seconds": 1}
    with ThreadPoolExecutor(parties) as executor:
        results = list(executor.map(lambda c: invoke(c, name, event)[1], clients))
    return [r["environment"] for r in results]


def test_concurrent_invocations_run_in_separate_environments(lamina_server, make_function):
    name = make_function(file="actions.py", Timeout=15)

    environments = hold_together(lamina_server.endpoint, name, 4)

    assert len(set(environments)) == 4


def test_warm_environments_serve_the_next_concurrent_invocations(lamina_server, make_function):
    name = make_function(file="actions.py", Timeout=15)

    first = hold_together(lamina_server.endpoint, name, 3)
    second = hold_together(lamina_server.endpoint, name, 3)

    assert set(second) == set(first)


# -- payloads --------------------------------------------------------------------------------


def test_payload_that_is_not_json_is_rejected_with_400(lamina_server, actions):
    status, headers, body = raw_invoke(lamina_server, actions, b"{this is not json")

    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert json.loads(body)["message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: "
    )


def test_payload_that_is_not_utf8_is_rejected_with_400(lamina_server, actions):
    status, headers, _ = raw_invoke(lamina_server, actions, b'"\xff\xfe"')

    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidRequestContentException")


def test_payload_over_6_mb_is_rejected_with_413(lamina_server, actions):
    body = json.dumps("x" * (SYNC_LIMIT - 1)).encode()
    status, headers, answer = raw_invoke(lamina_server, actions, body)

    assert (status, headers["x-amzn-errortype"]) == (413, "RequestEntityTooLargeException")
    assert json.loads(answer)["message"] == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )


def test_payload_over_6_mb_raises_request_entity_too_large_in_boto3(lambda_client, actions):
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName=actions, Payload=json.dumps("x" * SYNC_LIMIT).encode())

    assert caught.value.response["Error"]["Code"] == "RequestEntityTooLargeException"


def test_event_payload_over_1_mb_is_rejected_with_413(lamina_server, actions):
    body = json.dumps("x" * (EVENT_LIMIT - 1)).encode()
    status, headers, answer = raw_invoke(
        lamina_server, actions, body, {"X-Amz-Invocation-Type": "Event"}
    )

    assert (status, headers["x-amzn-errortype"]) == (413, "RequestEntityTooLargeException")
    assert json.loads(answer)["message"] == (
        f"{len(body)} byte payload is too large for the Event invocation type "
        f"(limit {EVENT_LIMIT} bytes)"
    )


def test_five_megabyte_payload_round_trips(lambda_client, actions):
    event = {"action": "echo", "data": "y" * (5 * 1024 * 1024)}
    response, body = invoke(lambda_client, actions, event)

    assert "FunctionError" not in response
    assert body == event


def test_response_of_exactly_the_limit_is_returned(lambda_client, actions):
    response, body = invoke(
        lambda_client, actions, {"action": "string", "size": RESPONSE_LIMIT - 2}
    )

    assert "FunctionError" not in response
    assert len(body) == RESPONSE_LIMIT - 2


def test_response_over_the_limit_is_a_function_error(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "string", "size": RESPONSE_LIMIT})

    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert body["errorMessage"] == (
        "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    )


def test_invocation_after_a_too_large_response_works(lambda_client, actions):
    invoke(lambda_client, actions, {"action": "string", "size": RESPONSE_LIMIT})
    response, body = invoke(lambda_client, actions, {"action": "echo", "after": True})

    assert "FunctionError" not in response
    assert body == {"action": "echo", "after": True}


def test_result_that_is_not_json_serialisable_is_a_marshal_error(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "set"})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


DECIMAL_HANDLER = """
from decimal import Decimal

def handler(event, context):
    return {"price": Decimal("19.90"), "count": Decimal("3"), "tiny": Decimal("1E-7")}
"""


def test_decimal_results_keep_their_exact_digits(lamina_server, make_function):
    name = make_function(DECIMAL_HANDLER)
    status, _, body = raw_invoke(lamina_server, name, b"{}")

    assert (status, body) == (200, b'{"price": 19.90, "count": 3, "tiny": 1E-7}')


def test_empty_payload_reaches_the_handler_as_an_empty_object(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect)

    assert body["event"] == {}


def test_handler_in_a_package_is_named_with_dots(lambda_client, make_function):
    package = zip_files(
        {
            "app/__init__.py": "",
            "app/api/__init__.py": "",
            "app/api/views.py": "def entry(event, context):\n    return ['nested', event]\n",
        }
    )
    name = make_function(zip_bytes=package, handler="app.api.views.entry")

    response = lambda_client.invoke(FunctionName=name, Payload=b"7")

    assert json.loads(response["Payload"].read()) == ["nested", 7]


def test_handler_in_a_folder_may_be_named_with_slashes(lambda_client, make_function):
    package = zip_files({"src/handlers/main.py": "def run(event, context):\n    return 'ok'\n"})
    name = make_function(zip_bytes=package, handler="src/handlers/main.run")

    response = lambda_client.invoke(FunctionName=name)

    assert json.loads(response["Payload"].read()) == "ok"


TRACE = "import os\ndef handler(event, context):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"


def test_every_invocation_carries_a_trace_header(lambda_client, make_function):
    name = make_function(TRACE)

    _, made = invoke(lambda_client, name, {})
    _, again = invoke(lambda_client, name, {})

    assert made.startswith("Root=1-") and ";Parent=" in made and made.endswith(";Sampled=0")
    assert again != made


def test_the_callers_trace_header_reaches_the_function(lamina_server, make_function):
    name = make_function(TRACE)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    path = f"/2015-03-31/functions/{name}/invocations"
    headers = signed_headers(
        lamina_server.endpoint, "POST", path, b"{}", {"X-Amzn-Trace-Id": trace}
    )
    request = urllib.request.Request(
        lamina_server.endpoint + path, data=b"{}", method="POST", headers=headers
    )

    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read()) == trace
