"""Limits the namespace sandbox puts on an environment: memory, CPU share, idle freezing."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import MakeFunction, invoke

pytestmark = pytest.mark.skipif(
    os.environ.get("LAMINA_SANDBOX") == "process",
    reason="the process backend was chosen explicitly: it enforces no limits",
)

TICKER = """
import threading, time
TICKS = 0
def tick():
    global TICKS
    while True:
        TICKS += 1
        time.sleep(0.01)
threading.Thread(target=tick, daemon=True).start()
def handler(event, context):
    return TICKS
"""

SPIN = """
import time
def handler(event, context):
    end = time.monotonic() + event["seconds"]
    spins = 0
    while time.monotonic() < end:
        spins += 1
    cpu = time.process_time()
    return {"cpu": cpu}
"""


def test_exceeding_memory_size_is_runtime_out_of_memory(lambda_client, make_function):
    name = make_function(
        "def handler(e, c):\n    return [bytearray(1 << 20) for _ in range(400)] and 1\n",
        MemorySize=128,
    )

    _response, body = invoke(lambda_client, name, {}, LogType="Tail")

    assert body["errorType"] == "Runtime.OutOfMemory"
    assert "signal: killed" in body["errorMessage"]


def test_an_idle_environment_is_frozen(lambda_client, make_function: MakeFunction):
    name = make_function(TICKER)
    first = invoke(lambda_client, name, {})[1]

    time.sleep(3)  # the environment is frozen after one idle second
    second = invoke(lambda_client, name, {})[1]

    # Unfrozen, the ticker would have counted ~300 in three seconds; frozen, about 100.
    assert second - first < 250


def test_cpu_share_is_proportional_to_memory(lambda_client, make_function: MakeFunction):
    small = make_function(SPIN, MemorySize=128, Timeout=10)

    body = invoke(lambda_client, small, {"seconds": 1})[1]

    # 128 MB is 128/1769 of a vCPU: about 0.07 s of CPU in one second of wall time.
    assert body["cpu"] < 0.3, json.dumps(body)
