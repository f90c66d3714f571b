"""Provisioned concurrency through boto3: configuration API, readiness, use, limits, lifecycle."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    MakeFunction,
    RunningServer,
    client_for,
    invoke,
    signed_request,
    tail,
    wait_active,
)

HANDLER = """
import os, time
INIT_AT = time.time()
ENVIRONMENT = os.urandom(8).hex()
INVOCATIONS = 0

def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    if event.get("die"):
        os._exit(1)
    time.sleep(event.get("seconds", 0))
    return {
        "init_at": INIT_AT,
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "environment": ENVIRONMENT,
        "invocations": INVOCATIONS,
    }
"""

FAILING_INIT = """
raise RuntimeError("init fails")

def handler(event, context):
    return "never"
"""


def published(api: Any, make_function: MakeFunction, source: str = HANDLER) -> str:
    """A function (deleted after the test) with version 1 published and active."""
    name = make_function(source, client=api)
    version = api.publish_version(FunctionName=name)["Version"]
    api.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier=version)
    return name


def wait_status(
    client: Any, name: str, qualifier: str, status: str = "READY", timeout_s: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        config: dict[str, Any] = client.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        if config["Status"] == status:
            return config
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}:{qualifier} stayed {config['Status']}: {config}")
        time.sleep(0.05)


def stats(server: RunningServer) -> dict[str, int]:
    response = signed_request(server.endpoint, "GET", "/_lamina/stats")
    assert response.status == 200
    doc: dict[str, int] = response.json()
    return doc


def configs(api: Any, name: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = api.list_provisioned_concurrency_configs(FunctionName=name)[
        "ProvisionedConcurrencyConfigs"
    ]
    return listed


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# -- the configuration API ---------------------------------------------------------------------


def test_put_answers_202_in_progress_and_the_config_becomes_ready(
    lambda_client, make_function: MakeFunction
):
    name = published(lambda_client, make_function)

    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    ready = wait_status(lambda_client, name, "1")

    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["Status"] == "IN_PROGRESS"
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["AllocatedProvisionedConcurrentExecutions"] == 0
    assert put["AvailableProvisionedConcurrentExecutions"] == 0
    assert put["LastModified"].endswith("+0000")
    assert ready["RequestedProvisionedConcurrentExecutions"] == 2
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    assert ready["LastModified"] == put["LastModified"]
    assert "StatusReason" not in ready


def test_configs_are_listed_with_their_qualified_arns(lambda_client, make_function):
    name = published(lambda_client, make_function)
    lambda_client.update_function_configuration(FunctionName=name, Description="v2")
    wait_active(lambda_client, name)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    empty = lambda_client.list_provisioned_concurrency_configs(FunctionName=name)

    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="2", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, name, "live")
    wait_status(lambda_client, name, "2")
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=name)
    first = lambda_client.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=1)

    assert empty["ProvisionedConcurrencyConfigs"] == []
    arns = [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]]
    assert [arn.rsplit(":", 1)[1] for arn in arns] == ["2", "live"]
    assert arns[0].startswith(f"arn:aws:lambda:us-east-1:000000000000:function:{name}:")
    assert {c["Status"] for c in listed["ProvisionedConcurrencyConfigs"]} == {"READY"}
    assert len(first["ProvisionedConcurrencyConfigs"]) == 1
    assert "NextMarker" in first


def test_latest_is_refused_with_aws_messages(lambda_client, make_function: MakeFunction):
    name = published(lambda_client, make_function)

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as put:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as get:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST")
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as delete:
        lambda_client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST")

    assert error_of(put)[2] == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    message = "The function resource provided must be an alias or a published version."
    assert error_of(get)[2] == message
    assert error_of(delete)[2] == message
    assert configs(lambda_client, name) == []


def test_missing_functions_versions_aliases_and_configs(lambda_client, make_function):
    name = published(lambda_client, make_function)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"

    with pytest.raises(lambda_client.exceptions.ProvisionedConcurrencyConfigNotFoundException) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    not_found = error_of(e)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="10")
    no_version = error_of(e)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="noalias", ProvisionedConcurrentExecutions=1
        )
    no_alias = error_of(e)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as e:
        lambda_client.list_provisioned_concurrency_configs(FunctionName="doesnotexist")
    no_function = error_of(e)
    deleted = lambda_client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")

    assert not_found == (
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
    assert no_version == (404, "ResourceNotFoundException", f"Function not found: {arn}:10")
    assert no_alias == (404, "ResourceNotFoundException", f"Cannot find alias arn: {arn}:noalias")
    assert no_function[:2] == (404, "ResourceNotFoundException")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_zero_environments_is_a_validation_error(raw_lambda_client, make_function):
    name = published(raw_lambda_client, make_function)

    with pytest.raises(ClientError) as raised:
        raw_lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=0
        )

    status, code, message = error_of(raised)
    assert (status, code) == (400, "ValidationException")
    assert "Member must have value greater than or equal to 1" in message
    with pytest.raises(raw_lambda_client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        raw_lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")


def test_an_alias_and_its_version_cannot_both_hold_configs(lambda_client, make_function):
    name = published(lambda_client, make_function)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")

    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as on_alias:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
        )
    lambda_client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as on_version:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
        )

    assert error_of(on_alias)[2] == (
        "Alias can't be used for Provisioned Concurrency configuration on an already "
        "Provisioned version"
    )
    assert error_of(on_version)[2] == "Version is pointed by a Provisioned Concurrency alias"


def test_provisioned_concurrency_counts_against_the_function_and_account(
    lambda_client, make_function: MakeFunction
):
    name = published(lambda_client, make_function)
    before = lambda_client.get_account_settings()["AccountLimit"]

    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=3
    )
    after = lambda_client.get_account_settings()["AccountLimit"]
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as too_small:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=4)
    reserved = lambda_client.get_account_settings()["AccountLimit"]
    concurrency = lambda_client.get_function_concurrency(FunctionName=name)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as over:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=5
        )

    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 3
    assert "provisioned concurrency [3]" in error_of(too_small)[2]
    assert reserved["UnreservedConcurrentExecutions"] == (
        before["UnreservedConcurrentExecutions"] - 4
    )
    assert concurrency == {
        "ReservedConcurrentExecutions": 4,
        "ResponseMetadata": concurrency["ResponseMetadata"],
    }
    assert error_of(over)[2] == (
        "Requested Provisioned Concurrency should not be greater than the "
        "reservedConcurrentExecution for function"
    )


def test_provisioning_below_the_unreserved_minimum_is_refused(lambda_client, make_function):
    name = published(lambda_client, make_function)
    unreserved = lambda_client.get_account_settings()["AccountLimit"][
        "UnreservedConcurrentExecutions"
    ]

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as raised:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=unreserved - 99
        )

    assert error_of(raised)[2] == (
        "Specified ConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    assert configs(lambda_client, name) == []


def test_a_failing_init_makes_the_config_failed(lambda_client, make_function: MakeFunction):
    name = published(lambda_client, make_function, FAILING_INIT)

    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    failed = wait_status(lambda_client, name, "1", "FAILED")

    assert failed["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert failed["AvailableProvisionedConcurrentExecutions"] == 0


# -- using provisioned environments ------------------------------------------------------------


def test_the_first_invocation_after_ready_is_warm(lambda_client, make_function: MakeFunction):
    name = published(lambda_client, make_function)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, name, "1")
    time.sleep(0.2)
    asked_at = time.time()

    response, result = invoke(lambda_client, name, {}, Qualifier="1", LogType="Tail")

    assert result["type"] == "provisioned-concurrency"
    assert result["invocations"] == 1
    assert result["init_at"] < asked_at  # module-level code ran before the request
    report = next(line for line in tail(response).splitlines() if line.startswith("REPORT"))
    assert "Init Duration" not in report
    assert response["ExecutedVersion"] == "1"


def test_invocations_use_provisioned_environments_first(lambda_client, make_function):
    name = published(lambda_client, make_function)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    wait_status(lambda_client, name, "1")

    sequential = [invoke(lambda_client, name, {}, Qualifier="1")[1] for _ in range(4)]
    clients = [client_for(lambda_client.meta.endpoint_url) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        burst = list(
            pool.map(lambda c: invoke(c, name, {"seconds": 1.0}, Qualifier="1")[1], clients)
        )

    assert {r["type"] for r in sequential} == {"provisioned-concurrency"}
    assert sorted(r["type"] for r in burst) == [
        "on-demand",
        "provisioned-concurrency",
        "provisioned-concurrency",
    ]
    provisioned = {r["environment"] for r in sequential + burst if r["type"] != "on-demand"}
    assert len(provisioned) == 2


def test_an_alias_config_serves_invocations_through_the_alias(lambda_client, make_function):
    name = published(lambda_client, make_function)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")

    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, name, "live")
    response, result = invoke(lambda_client, name, {}, Qualifier="live", LogType="Tail")

    assert result["type"] == "provisioned-concurrency"
    assert "Init Duration" not in tail(response)
    assert response["ExecutedVersion"] == "1"


def test_an_alias_moved_to_another_version_takes_its_provisioned_environments(
    lambda_client, make_function: MakeFunction
):
    name = published(lambda_client, make_function)
    lambda_client.update_function_configuration(FunctionName=name, Description="v2")
    wait_active(lambda_client, name)
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, name, "live")

    lambda_client.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    wait_status(lambda_client, name, "live")
    response, result = invoke(lambda_client, name, {}, Qualifier="live")

    assert response["ExecutedVersion"] == "2"
    assert result["type"] == "provisioned-concurrency"


def test_a_provisioned_environment_that_dies_is_replaced(lambda_client, make_function):
    name = published(lambda_client, make_function)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, name, "1")
    first = invoke(lambda_client, name, {}, Qualifier="1")[1]

    died, _ = invoke(lambda_client, name, {"die": True}, Qualifier="1")
    deadline = time.monotonic() + 30
    while True:
        config = lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        if config["AvailableProvisionedConcurrentExecutions"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    response, after = invoke(lambda_client, name, {}, Qualifier="1", LogType="Tail")

    assert died["FunctionError"] == "Unhandled"
    assert config["Status"] == "READY"
    assert after["type"] == "provisioned-concurrency"
    assert after["environment"] != first["environment"]
    assert "Init Duration" not in tail(response)


# -- lifecycle: delete, restart ------------------------------------------------------------------


def test_a_smaller_config_or_deleting_it_releases_environments(start_server, make_function):
    server = start_server()
    client = client_for(server.endpoint)
    name = published(client, make_function)

    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=3
    )
    wait_status(client, name, "1")
    held = stats(server)
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    shrunk = wait_status(client, name, "1")
    held_after_shrinking = stats(server)
    client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    released = stats(server)
    response, result = invoke(client, name, {}, Qualifier="1", LogType="Tail")

    assert held["provisioned_environments"] == 3
    assert shrunk["AllocatedProvisionedConcurrentExecutions"] == 1
    assert held_after_shrinking["provisioned_environments"] == 1
    assert held_after_shrinking["environments"] == 1
    assert released["provisioned_environments"] == 0
    assert released["environments"] == 0
    assert result["type"] == "on-demand"
    assert "Init Duration" in tail(response)
    with pytest.raises(client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")


def test_deleting_the_alias_version_or_function_releases_them(start_server, make_function):
    server = start_server()
    client = client_for(server.endpoint)
    name = published(client, make_function)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    wait_status(client, name, "live")

    client.delete_alias(FunctionName=name, Name="live")
    after_alias = stats(server)["provisioned_environments"]
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(client, name, "1")
    client.delete_function(FunctionName=name, Qualifier="1")
    after_version = stats(server)["provisioned_environments"]
    client.update_function_configuration(FunctionName=name, Description="v2")
    wait_active(client, name)
    client.publish_version(FunctionName=name)
    client.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier="2")
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="2", ProvisionedConcurrentExecutions=1
    )
    wait_status(client, name, "2")
    client.delete_function(FunctionName=name)
    after_function = stats(server)

    assert after_alias == 0
    assert after_version == 0
    assert after_function["provisioned_environments"] == 0
    assert after_function["environments"] == 0
    unreserved = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert unreserved == client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]


def test_a_restart_provisions_the_configs_again(start_server, make_function, tmp_path):
    server = start_server()
    client = client_for(server.endpoint)
    name = published(client, make_function)
    client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    wait_status(client, name, "1")

    server.stop()
    server.start()
    restarted = client_for(server.endpoint)
    ready = wait_status(restarted, name, "1")
    response, result = invoke(restarted, name, {}, Qualifier="1", LogType="Tail")

    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    assert stats(server)["provisioned_environments"] == 2
    assert result["type"] == "provisioned-concurrency"
    assert "Init Duration" not in tail(response)


def test_the_provisioned_environment_logs_its_init_before_any_invocation(
    lambda_client, logs_client, make_function: MakeFunction
):
    name = published(lambda_client, make_function)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, name, "1")
    time.sleep(0.2)
    streams_before = logs_client.describe_log_streams(logGroupName=f"/aws/lambda/{name}")

    invoke(lambda_client, name, {}, Qualifier="1")
    stream = streams_before["logStreams"][0]["logStreamName"]
    events = logs_client.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=stream)
    messages = [e["message"] for e in events["events"]]

    assert len(streams_before["logStreams"]) == 1
    assert stream.split("]", 1)[0].endswith("[1")
    assert messages[0].startswith("INIT_START")
    assert [m.split(" ", 1)[0] for m in messages[1:]] == ["START", "END", "REPORT"]
    assert "Init Duration" not in messages[-1]
    assert json.loads(json.dumps(messages))  # plain text lines


def test_responses_carry_only_members_of_botocore_s_output_shapes(
    lamina_server, lambda_client, make_function: MakeFunction
):
    model = lambda_client.meta.service_model
    name = published(lambda_client, make_function)
    path = f"/2019-09-30/functions/{name}/provisioned-concurrency"
    body = json.dumps({"ProvisionedConcurrentExecutions": 1}).encode()

    put = signed_request(lamina_server.endpoint, "PUT", f"{path}?Qualifier=1", body)
    wait_status(lambda_client, name, "1")
    get = signed_request(lamina_server.endpoint, "GET", f"{path}?Qualifier=1")
    listed = signed_request(lamina_server.endpoint, "GET", f"{path}?List=ALL")

    def members(operation: str) -> set[str]:
        return set(model.operation_model(operation).output_shape.members)

    item = set(model.shape_for("ProvisionedConcurrencyConfigListItem").members)
    assert put.status == 202
    assert set(put.json()) <= members("PutProvisionedConcurrencyConfig")
    assert set(get.json()) <= members("GetProvisionedConcurrencyConfig")
    assert set(listed.json()) <= members("ListProvisionedConcurrencyConfigs")
    assert all(set(c) <= item for c in listed.json()["ProvisionedConcurrencyConfigs"])
    assert set(get.json()) >= members("GetProvisionedConcurrencyConfig") - {"StatusReason"}


def test_on_demand_invocations_get_the_reservation_minus_the_provisioned_concurrency(
    lamina_server, lambda_client, make_function: MakeFunction
):
    name = published(lambda_client, make_function)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    wait_status(lambda_client, name, "1")

    def one(client: Any) -> str:
        try:
            return str(invoke(client, name, {"seconds": 1.5}, Qualifier="1")[1]["type"])
        except ClientError as exc:
            return f"{exc.response['Error']['Code']}:{exc.response.get('Reason')}"

    clients = [client_for(lamina_server.endpoint) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        outcomes = sorted(pool.map(one, clients))

    assert outcomes == [
        "TooManyRequestsException:ReservedFunctionConcurrentInvocationLimitExceeded",
        "on-demand",
        "provisioned-concurrency",
    ]
