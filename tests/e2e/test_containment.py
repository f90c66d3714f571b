"""What a function does stays with the function: the server and other functions carry on."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import client_for, processes_with

FLOOD = """
import sys
def handler(event, context):
    chunk = "x" * 1023 + "\\n"
    for _ in range(event["kib"]):
        sys.stdout.write(chunk)
    return "flooded"
"""

LEAVES_A_CHILD = """
import subprocess
def handler(event, context):
    subprocess.Popen(["sleep", event["marker"]])
    return "started"
"""


def test_an_output_flood_is_cut_and_the_invocation_still_answers(
    lambda_client, logs_client, make_function
):
    name = make_function(FLOOD, Timeout=60)

    response = lambda_client.invoke(FunctionName=name, Payload=b'{"kib": 20480}')

    assert json.loads(response["Payload"].read()) == "flooded"
    events = logs_client.filter_log_events(
        logGroupName=f"/aws/lambda/{name}", filterPattern="lamina: this invocation wrote"
    )["events"]
    assert len(events) == 1


def test_the_server_answers_other_requests_while_a_function_floods_its_output(
    lamina_server, make_function
):
    name = make_function(FLOOD, Timeout=60)
    client = client_for(lamina_server.endpoint)
    with ThreadPoolExecutor(1) as pool:
        flood = pool.submit(client.invoke, FunctionName=name, Payload=b'{"kib": 30720}')
        time.sleep(0.2)
        with urllib.request.urlopen(f"{lamina_server.endpoint}/_lamina/health", timeout=5) as r:
            healthy = r.status == 200
        flood.result(timeout=60)

    assert healthy


def test_processes_a_function_started_die_with_its_environment(lambda_client, make_function):
    name = make_function(LEAVES_A_CHILD)
    marker = f"300.{time.time_ns()}"
    lambda_client.invoke(FunctionName=name, Payload=json.dumps({"marker": marker}))
    assert processes_with(marker)

    # Changing the configuration retires the warm environment.
    lambda_client.update_function_configuration(FunctionName=name, Timeout=4)

    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_with(marker)
