"""Elastic environment pools: keep-alive reaping, the memory budget's LRU eviction, throttling
when nothing can be evicted, and provisioned environments exempt from both."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import MakeFunction, RunningServer, client_for, invoke, tail, wait_active
from tests.e2e.test_provisioned import stats, wait_status

HANDLER = """
import os, time
ENVIRONMENT = os.urandom(8).hex()

def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"environment": ENVIRONMENT, "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def run(client: Any, name: str, **kwargs: Any) -> tuple[str, bool]:
    """Invoke once: (the environment that served, whether it was a cold start)."""
    response, result = invoke(client, name, {}, LogType="Tail", **kwargs)
    return result["environment"], "Init Duration" in tail(response)


def wait_for(server: RunningServer, key: str, value: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while stats(server)[key] != value:
        assert time.monotonic() < deadline, f"{key} stayed {stats(server)[key]}, not {value}"
        time.sleep(0.05)


def burst(server: RunningServer, name: str, parties: int, seconds: float) -> list[str]:
    """Simultaneous invocations: each one's outcome, ``ok`` or its error code and reason."""

    def one(client: Any) -> str:
        try:
            invoke(client, name, {"seconds": seconds})
        except ClientError as exc:
            return f"{exc.response['Error']['Code']}:{exc.response.get('Reason', '')}"
        return "ok"

    clients = [client_for(server.endpoint) for _ in range(parties)]
    with ThreadPoolExecutor(parties) as pool:
        return sorted(pool.map(one, clients))


def test_idle_on_demand_environments_are_reaped_after_the_keep_alive(
    start_server, make_function: MakeFunction
):
    server = start_server("--idle-timeout", "1")
    client = client_for(server.endpoint)
    name = make_function(HANDLER, client=client)

    first, first_cold = run(client, name)
    warm, warm_cold = run(client, name)
    kept = stats(server)["environments"]
    wait_for(server, "environments", 0)
    again, again_cold = run(client, name)

    assert (first_cold, warm_cold, again_cold) == (True, False, True)
    assert warm == first
    assert kept == 1
    assert again != first


def test_provisioned_environments_are_never_reaped(start_server, make_function: MakeFunction):
    server = start_server("--idle-timeout", "1")
    client = client_for(server.endpoint)
    name = make_function(HANDLER, client=client)
    client.publish_version(FunctionName=name)
    client.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier="1")
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(client, name, "1")
    before, _ = run(client, name, Qualifier="1")
    run(client, name)  # $LATEST: an on-demand environment beside it

    wait_for(server, "environments", 1)  # the on-demand one went after the keep-alive
    time.sleep(1.5)
    after, cold = run(client, name, Qualifier="1")

    assert stats(server)["provisioned_environments"] == 1
    assert after == before
    assert not cold


def test_a_full_memory_budget_evicts_the_least_recently_used_idle_environment(
    start_server, make_function: MakeFunction
):
    server = start_server("--memory-budget", "512")
    client = client_for(server.endpoint)
    names = [make_function(HANDLER, client=client, MemorySize=128) for _ in range(5)]
    served = {name: run(client, name)[0] for name in names[:4]}  # 4 x 128 MB: the budget
    run(client, names[0])  # names[1] is now the least recently used

    _, fifth_cold = run(client, names[4])
    full = stats(server)
    first, first_cold = run(client, names[0])
    second, second_cold = run(client, names[1])

    assert fifth_cold
    assert full["evictions"] == 1
    assert full["environments"] == 4
    assert full["memory_used_mb"] == 512
    assert (first, first_cold) == (served[names[0]], False)
    assert second != served[names[1]]
    assert second_cold


def test_invocations_are_throttled_when_nothing_idle_can_be_evicted(
    start_server, make_function: MakeFunction
):
    server = start_server("--memory-budget", "256")
    client = client_for(server.endpoint)
    name = make_function(HANDLER, client=client, MemorySize=128)

    outcomes = burst(server, name, 3, 1.5)
    later = run(client, name)

    assert outcomes == [
        "TooManyRequestsException:ConcurrentInvocationLimitExceeded",
        "ok",
        "ok",
    ]
    assert later[1] is False  # one of the two environments, still warm
    assert stats(server)["memory_used_mb"] == 256


def test_provisioned_environments_are_not_evicted_for_on_demand_work(
    start_server, make_function: MakeFunction
):
    server = start_server("--memory-budget", "256")
    client = client_for(server.endpoint)
    provisioned = make_function(HANDLER, client=client, MemorySize=128)
    other = make_function(HANDLER, client=client, MemorySize=128)
    client.publish_version(FunctionName=provisioned)
    client.get_waiter("function_active_v2").wait(FunctionName=provisioned, Qualifier="1")
    client.put_provisioned_concurrency_config(
        FunctionName=provisioned, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    wait_status(client, provisioned, "1")

    try:
        run(client, other)
    except ClientError as exc:
        refused = exc.response
    else:
        raise AssertionError("the on-demand invocation was not throttled")
    served, cold = run(client, provisioned, Qualifier="1")

    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert refused["Error"]["Code"] == "TooManyRequestsException"
    assert refused["Error"]["Message"] == "Rate Exceeded."
    assert stats(server)["provisioned_environments"] == 2
    assert not cold
    assert served


def test_a_redeploy_drains_old_environments_busy_ones_after_their_invocation(
    start_server, make_function: MakeFunction
):
    server = start_server()
    client = client_for(server.endpoint)
    name = make_function(HANDLER, client=client)
    warm, _ = run(client, name)
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(invoke, client_for(server.endpoint), name, {"seconds": 2.0})
        time.sleep(0.5)
        client.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"NEW": "1"}}
        )
        wait_active(client, name)
        while_busy = stats(server)
        old = busy.result()[1]["environment"]
    after = stats(server)
    new, cold = run(client, name)

    assert old == warm  # the busy invocation took the warm environment
    assert while_busy["environments"] == 1  # retired, but kept until its invocation ends
    assert after["environments"] == 0
    assert after["memory_used_mb"] == 0
    assert cold
    assert new != old
