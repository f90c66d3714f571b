"""Asynchronous invocation: its settings, retries, maximum age, destinations and DLQs.

The server here runs with ``--async-delay-scale 0.01``: AWS's one- and two-minute retry delays
become 0.6 s and 1.2 s, and a MaximumEventAgeInSeconds of 60 becomes 0.6 s. SQS targets live in
a real SQS-compatible server (moto in server mode) on the loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ROLE,
    RunningServer,
    client_for,
    free_port,
    handler_zip,
    signed_headers,
    wait_active,
)

MOTO_ACCOUNT = "123456789012"
FAILS = "def handler(event, context):\n    raise ValueError('always ' + event['tag'])\n"
SUCCEEDS = "def handler(event, context):\n    return {'echo': event['tag']}\n"
RECORDER = "import json\ndef handler(event, context):\n    print('RECORD ' + json.dumps(event))\n"


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.1)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqs_endpoint: str) -> Iterator[RunningServer]:
    running = RunningServer(
        tmp_path_factory.mktemp("async") / "data",
        free_port(),
        ["--async-delay-scale", "0.01", "--sqs-endpoint", sqs_endpoint],
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Any:
    return client_for(server.endpoint)


@pytest.fixture(scope="module")
def sqs(sqs_endpoint: str) -> Any:
    return client_for(sqs_endpoint, "sqs")


_counter = iter(range(10**6))


def deploy(client: Any, source: str, **settings: Any) -> tuple[str, str]:
    """(name, ARN) of a new function."""
    name = f"async-{next(_counter)}-{time.time_ns() % 10**6}"
    config = client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(source)}, **settings,
    )  # fmt: skip
    wait_active(client, name)
    return name, config["FunctionArn"]


def records(server: RunningServer, recorder: str, count: int, timeout_s: float = 20) -> list[Any]:
    """The first ``count`` invocation records the recorder function received."""
    logs = client_for(server.endpoint, "logs")
    deadline = time.monotonic() + timeout_s
    found: list[Any] = []
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{recorder}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        found = [json.loads(e["message"][7:]) for e in events if e["message"].startswith("RECORD ")]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{len(found)} of {count} records arrived")


def starts(server: RunningServer, name: str) -> int:
    logs = client_for(server.endpoint, "logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return sum(e["message"].startswith("START ") for e in events)


def new_queue(sqs: Any) -> tuple[str, str]:
    """(URL, ARN) of a fresh queue."""
    name = f"q{time.time_ns()}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:{name}"


def receive(sqs: Any, url: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", [])
        if messages:
            return dict(messages[0])
    raise AssertionError("no message arrived")


# -- settings --------------------------------------------------------------------------------


def test_event_invoke_config_is_put_merged_got_listed_and_deleted(client):
    name, arn = deploy(client, SUCCEEDS)
    _, target = deploy(client, RECORDER)

    put = client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    updated = client.update_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": target}}
    )
    listed = client.list_function_event_invoke_configs(FunctionName=name)
    client.delete_function_event_invoke_config(FunctionName=name)

    assert put["FunctionArn"] == f"{arn}:$LATEST"
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": target}
    assert len(listed["FunctionEventInvokeConfigs"]) == 1
    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.get_function_event_invoke_config(FunctionName=name)
    assert "doesn't have an EventInvokeConfig" in missing.value.response["Error"]["Message"]


def test_put_without_any_setting_is_refused(client):
    name, _ = deploy(client, SUCCEEDS)

    with pytest.raises(client.exceptions.InvalidParameterValueException) as raised:
        client.put_function_event_invoke_config(FunctionName=name)

    assert (
        "at least one of error handling or destination" in raised.value.response["Error"]["Message"]
    )


def test_a_function_cannot_be_its_own_destination(client):
    name, arn = deploy(client, SUCCEEDS)

    with pytest.raises(client.exceptions.InvalidParameterValueException) as raised:
        client.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
        )

    assert "destination for itself" in raised.value.response["Error"]["Message"]


def test_an_unknown_destination_function_is_invalid(client):
    name, arn = deploy(client, SUCCEEDS)

    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_function_event_invoke_config(
            FunctionName=name,
            DestinationConfig={"OnSuccess": {"Destination": arn + "-missing"}},
        )


# -- outcomes --------------------------------------------------------------------------------


def test_a_failing_event_is_tried_three_times_then_recorded_as_retries_exhausted(server, client):
    name, arn = deploy(client, FAILS)
    recorder, target = deploy(client, RECORDER)
    client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": target}}
    )

    accepted = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "x"}')

    record = records(server, recorder, 1)[0]
    assert record["requestContext"] == {
        "requestId": accepted["ResponseMetadata"]["RequestId"],
        "functionArn": f"{arn}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"tag": "x"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "always x"
    assert starts(server, name) == 3


def test_with_zero_retries_an_event_is_tried_once(server, client):
    name, _ = deploy(client, FAILS)
    recorder, target = deploy(client, RECORDER)
    client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": target}},
    )

    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "once"}')

    assert records(server, recorder, 1)[0]["requestContext"]["approximateInvokeCount"] == 1


def test_a_successful_event_is_recorded_at_its_success_destination(server, client):
    name, _ = deploy(client, SUCCEEDS)
    recorder, target = deploy(client, RECORDER)
    client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": target}}
    )

    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "ok"}')

    record = records(server, recorder, 1)[0]
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"echo": "ok"}
    assert "functionError" not in record["responseContext"]


def test_zero_reserved_concurrency_sends_events_straight_to_failure(server, client):
    name, _ = deploy(client, SUCCEEDS)
    recorder, target = deploy(client, RECORDER)
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": target}}
    )

    accepted = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "z"}')

    record = records(server, recorder, 1)[0]
    assert accepted["StatusCode"] == 202
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert record["requestContext"]["approximateInvokeCount"] == 0


def test_an_event_past_its_maximum_age_is_given_up(server, client):
    name, _ = deploy(client, FAILS)
    recorder, target = deploy(client, RECORDER)
    client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": target}},
    )

    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "old"}')

    record = records(server, recorder, 1)[0]
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_a_dead_letter_queue_receives_the_event_with_aws_attributes(server, client, sqs):
    url, queue_arn = new_queue(sqs)
    name, _ = deploy(client, FAILS, DeadLetterConfig={"TargetArn": queue_arn})
    client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)

    accepted = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "dlq"}')

    message = receive(sqs, url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert json.loads(message["Body"]) == {"tag": "dlq"}
    assert attributes["RequestID"] == accepted["ResponseMetadata"]["RequestId"]
    assert attributes["ErrorCode"] == "200"
    assert attributes["ErrorMessage"] == "always dlq"
    assert client.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {
        "TargetArn": queue_arn
    }


def test_an_sqs_failure_destination_receives_the_invocation_record(server, client, sqs):
    url, queue_arn = new_queue(sqs)
    name, _ = deploy(client, FAILS)
    client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "sqs"}')

    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"tag": "sqs"}


def test_a_throttled_event_is_kept_and_run_once_capacity_frees(server, client):
    name, _ = deploy(
        client,
        "import time\n"
        "def handler(e, c):\n"
        "    time.sleep(e.get('hold', 0))\n"
        "    print('ran', e['tag'])\n",
        Timeout=10,
    )
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    holder = threading.Thread(
        target=client_for(server.endpoint).invoke,
        kwargs={"FunctionName": name, "Payload": b'{"hold": 2, "tag": "sync"}'},
    )
    holder.start()
    time.sleep(0.5)  # the only slot is taken

    accepted = client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "later"}')
    holder.join()

    logs = client_for(server.endpoint, "logs")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        if "ran later" in [e["message"] for e in events]:
            break
        time.sleep(0.1)
    assert accepted["StatusCode"] == 202
    assert "ran later" in [e["message"] for e in events]


def test_a_failed_delivery_is_counted(server, client):
    name, _ = deploy(client, FAILS, DeadLetterConfig={
        "TargetArn": f"arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:no-such-queue"
    })  # fmt: skip
    client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    before = stats(server)["dead_letter_errors"]

    client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"tag": "lost"}')

    deadline = time.monotonic() + 20
    while stats(server)["dead_letter_errors"] == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stats(server)["dead_letter_errors"] == before + 1


def stats(server: RunningServer) -> dict[str, int]:
    request = urllib.request.Request(
        f"{server.endpoint}/_lamina/stats",
        headers=signed_headers(server.endpoint, "GET", "/_lamina/stats"),
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))
