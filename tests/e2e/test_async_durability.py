"""An accepted asynchronous invocation is never lost, even when the server is killed.

Thousands of events are accepted while the server is killed with SIGKILL mid-stream; after a
restart, every event that was answered 202 must have run (at least once).
"""

from __future__ import annotations

import http.client
import signal
import threading
import time
from typing import Any

import pytest

from tests.conftest import (
    ROLE,
    RunningServer,
    client_for,
    handler_zip,
    signed_headers,
    wait_active,
)

SINK = """
import time
def handler(event, context):
    time.sleep(0.005)
    print("done", context.aws_request_id)
"""
SENDERS = 8
EVENTS_PER_SENDER = 300


def send_events(server: RunningServer, accepted: list[str], stop: threading.Event) -> None:
    """Send Event invocations until told to stop or the server dies; collect accepted ids."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(EVENTS_PER_SENDER):
            if stop.is_set():
                return
            path = "/2015-03-31/functions/sink/invocations"
            headers = signed_headers(
                server.endpoint, "POST", path, b"{}", {"X-Amz-Invocation-Type": "Event"}
            )
            connection.request("POST", path, body=b"{}", headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status == 202:
                accepted.append(response.headers["x-amzn-RequestId"])
    except (OSError, http.client.HTTPException):
        return  # the server was killed under us
    finally:
        connection.close()


def processed(server: RunningServer) -> set[str]:
    logs = client_for(server.endpoint, "logs")
    seen: set[str] = set()
    request: dict[str, Any] = {"logGroupName": "/aws/lambda/sink", "filterPattern": "done"}
    while True:
        try:
            page = logs.filter_log_events(**request)
        except logs.exceptions.ResourceNotFoundException:
            return seen  # nothing has run yet
        seen.update(e["message"].split()[1] for e in page["events"])
        if "nextToken" not in page:
            return seen
        request["nextToken"] = page["nextToken"]


@pytest.mark.slow
@pytest.mark.parametrize("round_", [1, 2])
def test_every_accepted_event_runs_after_the_server_is_killed(start_server, round_):
    server = start_server()
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="sink", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(SINK)},
    )  # fmt: skip
    wait_active(client, "sink")
    accepted: list[str] = []
    stop = threading.Event()
    senders = [
        threading.Thread(target=send_events, args=(server, accepted, stop)) for _ in range(SENDERS)
    ]
    for sender in senders:
        sender.start()
    while len(accepted) < SENDERS * EVENTS_PER_SENDER // 2:
        time.sleep(0.01)

    server.stop(signal.SIGKILL)
    stop.set()
    for sender in senders:
        sender.join()
    server.start()

    deadline = time.monotonic() + 120
    missing = set(accepted) - processed(server)
    while missing and time.monotonic() < deadline:
        time.sleep(0.5)
        missing -= processed(server)
    assert len(accepted) >= SENDERS * EVENTS_PER_SENDER // 2
    assert not missing, f"{len(missing)} of {len(accepted)} accepted events never ran"
