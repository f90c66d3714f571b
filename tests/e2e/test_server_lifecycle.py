"""The server's own lifecycle: restarts keep state, a graceful stop lets work finish."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import ROLE, client_for, handler_zip, processes_with, wait_active

PID_HANDLER = """
import os, subprocess, time
def handler(event, context):
    if "marker" in event:
        subprocess.Popen(["sleep", event["marker"]])
    time.sleep(event.get("sleep", 0))
    print("served", event.get("tag"))
    return {"pid": os.getpid(), "tag": event.get("tag")}
"""


def _create(client: Any, name: str, source: str = PID_HANDLER, **settings: Any) -> dict[str, Any]:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": handler_zip(source)},
        **settings,
    )
    return wait_active(client, name)


def _invoke(client: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return dict(json.loads(response["Payload"].read()))


def test_functions_survive_a_graceful_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    before = _create(client, "survivor", Environment={"Variables": {"KEY": "value"}})

    server.stop()
    server.start()

    after = client.get_function_configuration(FunctionName="survivor")
    assert {k: after[k] for k in ("CodeSha256", "Environment", "RevisionId")} == {
        k: before[k] for k in ("CodeSha256", "Environment", "RevisionId")
    }
    assert _invoke(client, "survivor", {"tag": "after"})["tag"] == "after"


def test_functions_survive_the_server_being_killed(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    _create(client, "killed-server")

    server.stop(signal.SIGKILL)
    server.start()

    assert _invoke(client, "killed-server", {"tag": "back"})["tag"] == "back"


def test_a_killed_servers_environments_do_not_outlive_it(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    _create(client, "orphaned")
    marker = f"301.{time.time_ns()}"
    _invoke(client, "orphaned", {"tag": "warm", "marker": marker})
    time.sleep(1.5)  # idle long enough to be frozen: a frozen process ignores even SIGKILL

    server.stop(signal.SIGKILL)

    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []


def test_logs_written_before_a_restart_are_kept(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    _create(client, "logged")
    _invoke(client, "logged", {"tag": "remember-me"})

    server.stop()
    server.start()

    events = client_for(server.endpoint, "logs").filter_log_events(
        logGroupName="/aws/lambda/logged"
    )
    assert "served remember-me" in [e["message"] for e in events["events"]]


def test_graceful_stop_lets_an_inflight_invocation_finish_and_stops_environments(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    _create(client, "slow", Timeout=10)
    results: list[dict[str, Any]] = []
    marker = f"300.{time.time_ns()}"
    event = {"sleep": 1.5, "tag": "done", "marker": marker}
    call = threading.Thread(target=lambda: results.append(_invoke(client, "slow", event)))
    call.start()
    time.sleep(0.7)  # the invocation is running

    code = server.stop(signal.SIGTERM)
    call.join(timeout=10)

    assert code == 0
    assert results and results[0]["tag"] == "done"
    assert processes_with(marker) == []


def test_identical_code_is_stored_once(start_server, tmp_path: Path):
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.endpoint)

    _create(client, "twin-a")
    _create(client, "twin-b")

    assert len(list((tmp_path / "data" / "code" / "zips").glob("*.zip"))) == 1
    assert len([p for p in (tmp_path / "data" / "code" / "tree").iterdir()]) == 1


def test_code_no_function_uses_is_removed_at_the_next_start(start_server, tmp_path: Path):
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.endpoint)
    _create(client, "short-lived")
    client.delete_function(FunctionName="short-lived")

    server.stop()
    server.start()

    assert list((tmp_path / "data" / "code" / "zips").glob("*.zip")) == []


def test_an_event_accepted_before_a_graceful_stop_runs_before_or_after_the_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    _create(
        client,
        "writer",
        "import time\n"
        "def handler(event, context):\n"
        "    time.sleep(0.5)\n"
        "    print('event done', context.aws_request_id)\n",
        Timeout=5,
    )

    accepted = client.invoke(FunctionName="writer", InvocationType="Event", Payload=b"{}")
    code = server.stop(signal.SIGTERM)
    server.start()

    expected = f"event done {accepted['ResponseMetadata']['RequestId']}"
    logs = client_for(server.endpoint, "logs")
    deadline = time.monotonic() + 15
    while True:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/writer")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if expected in [e["message"] for e in events] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert accepted["StatusCode"] == 202
    assert code == 0
    assert expected in [e["message"] for e in events]
