"""Reserved concurrency and the account limit: 429s with AWS's reasons, never an overrun."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ROLE,
    MakeFunction,
    client_for,
    handler_zip,
    signed_headers,
    wait_active,
)

HOLD = """
import time
def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return "done"
"""


def burst(endpoint: str, name: str, parties: int, seconds: float) -> list[str]:
    """``parties`` simultaneous invocations; each one's outcome (its result or error code)."""

    def one(client: Any) -> str:
        try:
            response = client.invoke(FunctionName=name, Payload=json.dumps({"seconds": seconds}))
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return str(json.loads(response["Payload"].read()))

    clients = [client_for(endpoint) for _ in range(parties)]
    with ThreadPoolExecutor(parties) as pool:
        return list(pool.map(one, clients))


def test_reserved_concurrency_is_put_got_and_deleted(lambda_client, make_function: MakeFunction):
    name = make_function(HOLD)

    put = lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    got = lambda_client.get_function_concurrency(FunctionName=name)
    shown = lambda_client.get_function(FunctionName=name)["Concurrency"]
    lambda_client.delete_function_concurrency(FunctionName=name)
    after = lambda_client.get_function_concurrency(FunctionName=name)

    assert put["ReservedConcurrentExecutions"] == 5
    assert got["ReservedConcurrentExecutions"] == 5
    assert shown == {"ReservedConcurrentExecutions": 5}
    assert "ReservedConcurrentExecutions" not in after
    assert "Concurrency" not in lambda_client.get_function(FunctionName=name)


def test_reservations_shrink_the_unreserved_pool(lambda_client, make_function: MakeFunction):
    name = make_function(HOLD)
    before = lambda_client.get_account_settings()["AccountLimit"]

    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    after = lambda_client.get_account_settings()["AccountLimit"]

    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 7
    assert after["ConcurrentExecutions"] == before["ConcurrentExecutions"]


def test_reserving_below_the_unreserved_minimum_is_refused(lambda_client, make_function):
    name = make_function(HOLD)
    limit = lambda_client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as raised:
        lambda_client.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=limit - 99
        )

    assert "below its minimum value of [100]" in raised.value.response["Error"]["Message"]
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
        FunctionName=name
    )


def test_concurrency_of_a_version_or_alias_is_refused(lambda_client, make_function):
    name = make_function(HOLD)

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as raised:
        lambda_client.put_function_concurrency(
            FunctionName=f"{name}:1", ReservedConcurrentExecutions=1
        )

    assert "permitted on Lambda functions only" in raised.value.response["Error"]["Message"]


def test_concurrency_of_an_unknown_function_is_404(lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function_concurrency(FunctionName="no-such-function-xyz")


def test_zero_reserved_concurrency_throttles_every_sync_invocation(
    lamina_server, lambda_client, make_function
):
    name = make_function(HOLD)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    path = f"/2015-03-31/functions/{name}/invocations"
    request = urllib.request.Request(
        lamina_server.endpoint + path,
        data=b"{}",
        headers=signed_headers(lamina_server.endpoint, "POST", path, b"{}"),
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    body = json.loads(raised.value.read())
    raised.value.close()

    assert raised.value.code == 429
    assert raised.value.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert body == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    }


def test_a_burst_runs_exactly_the_reserved_number_and_throttles_the_rest(
    lamina_server, lambda_client, make_function
):
    name = make_function(HOLD, Timeout=10)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)

    outcomes = burst(lamina_server.endpoint, name, 12, seconds=1.5)

    assert sorted(outcomes) == ["TooManyRequestsException"] * 9 + ["done"] * 3


def test_the_account_limit_throttles_functions_without_a_reservation(start_server):
    server = start_server("--concurrency-limit", "2")
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="shared", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(HOLD)}, Timeout=10,
    )  # fmt: skip
    wait_active(client, "shared")

    outcomes = burst(server.endpoint, "shared", 5, seconds=1.5)

    assert sorted(outcomes) == ["TooManyRequestsException"] * 3 + ["done"] * 2
    assert client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 2


def test_a_reservation_survives_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="kept", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(HOLD)},
    )  # fmt: skip
    wait_active(client, "kept")
    client.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=0)

    server.stop()
    server.start()

    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="kept", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
