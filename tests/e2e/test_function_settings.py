"""Runtime management (Get/PutRuntimeManagementConfig) and recursion control
(Get/PutFunctionRecursionConfig): defaults, per-version settings, errors, restarts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, client_for, handler_zip, unique_name

SOURCE = "def handler(event, context):\n    return 1\n"
RUNTIME_VERSION = (
    "arn:aws:lambda:us-east-1::runtime:"
    "0cdcfbdefbc5e7d3343f73c2e2dd3cba17d61dea0686b404502a0c9ce83931b9"
)
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# -- runtime management -----------------------------------------------------------------------


def test_runtime_management_defaults_to_auto(lambda_client, make_function):
    name = make_function(SOURCE)

    config = lambda_client.get_runtime_management_config(FunctionName=name)

    assert without_metadata(config) == {
        "UpdateRuntimeOn": "Auto",
        "FunctionArn": f"{ACCOUNT_ARN}:{name}:$LATEST",
    }


def test_manual_mode_pins_a_runtime_version(lambda_client, make_function):
    name = make_function(SOURCE)

    put = lambda_client.put_runtime_management_config(
        FunctionName=name, UpdateRuntimeOn="Manual", RuntimeVersionArn=RUNTIME_VERSION
    )
    got = lambda_client.get_runtime_management_config(FunctionName=name)

    expected = {
        "UpdateRuntimeOn": "Manual",
        "RuntimeVersionArn": RUNTIME_VERSION,
        "FunctionArn": f"{ACCOUNT_ARN}:{name}:$LATEST",
    }
    assert without_metadata(put) == expected
    assert without_metadata(got) == expected


def test_function_update_mode_reports_no_runtime_version(lambda_client, make_function):
    name = make_function(SOURCE)
    lambda_client.put_runtime_management_config(
        FunctionName=name, UpdateRuntimeOn="Manual", RuntimeVersionArn=RUNTIME_VERSION
    )

    lambda_client.put_runtime_management_config(FunctionName=name, UpdateRuntimeOn="FunctionUpdate")
    got = lambda_client.get_runtime_management_config(FunctionName=name)

    assert got["UpdateRuntimeOn"] == "FunctionUpdate"
    assert "RuntimeVersionArn" not in got


def test_runtime_management_is_kept_per_version(lambda_client, make_function):
    name = make_function(SOURCE)
    version = lambda_client.publish_version(FunctionName=name)["Version"]

    lambda_client.put_runtime_management_config(
        FunctionName=name, Qualifier=version, UpdateRuntimeOn="FunctionUpdate"
    )

    versioned = lambda_client.get_runtime_management_config(FunctionName=name, Qualifier=version)
    latest = lambda_client.get_runtime_management_config(FunctionName=name)
    assert (versioned["UpdateRuntimeOn"], versioned["FunctionArn"]) == (
        "FunctionUpdate",
        f"{ACCOUNT_ARN}:{name}:{version}",
    )
    assert latest["UpdateRuntimeOn"] == "Auto"


def test_runtime_management_leaves_get_function_as_it_was(lambda_client, make_function):
    name = make_function(SOURCE)
    before = lambda_client.get_function(FunctionName=name)["Configuration"]

    lambda_client.put_runtime_management_config(
        FunctionName=name, UpdateRuntimeOn="Manual", RuntimeVersionArn=RUNTIME_VERSION
    )

    after = lambda_client.get_function(FunctionName=name)["Configuration"]
    assert after["RuntimeVersionConfig"] == before["RuntimeVersionConfig"]
    assert after["RevisionId"] == before["RevisionId"]


def test_manual_mode_without_a_runtime_version_is_refused(lambda_client, make_function):
    name = make_function(SOURCE)

    with pytest.raises(ClientError) as raised:
        lambda_client.put_runtime_management_config(FunctionName=name, UpdateRuntimeOn="Manual")

    assert error(raised)[0] == "InvalidParameterValueException"
    assert lambda_client.get_runtime_management_config(FunctionName=name)["UpdateRuntimeOn"] == (
        "Auto"
    )


@pytest.mark.parametrize(
    ("settings", "member"),
    [
        ({"UpdateRuntimeOn": "Sometimes"}, "updateRuntimeOn"),
        ({}, "updateRuntimeOn"),
        (
            {"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": "arn:aws:lambda:nope:runtime"},
            "runtimeVersionArn",
        ),
    ],
)
def test_bad_runtime_management_requests_are_validation_errors(
    raw_lambda_client, make_function, settings, member
):
    name = make_function(SOURCE)

    with pytest.raises(ClientError) as raised:
        raw_lambda_client.put_runtime_management_config(FunctionName=name, **settings)

    code, message = error(raised)
    assert code == "ValidationException"
    assert f"at '{member}'" in message


def test_runtime_management_of_unknown_functions_and_versions_is_404(lambda_client, make_function):
    name = make_function(SOURCE)
    missing = unique_name()

    with pytest.raises(ClientError) as no_function:
        lambda_client.get_runtime_management_config(FunctionName=missing)
    with pytest.raises(ClientError) as no_version:
        lambda_client.put_runtime_management_config(
            FunctionName=name, Qualifier="7", UpdateRuntimeOn="Auto"
        )

    assert error(no_function) == (
        "ResourceNotFoundException",
        f"Function not found: {ACCOUNT_ARN}:{missing}",
    )
    assert error(no_version) == (
        "ResourceNotFoundException",
        f"Function not found: {ACCOUNT_ARN}:{name}:7",
    )


# -- recursion ----------------------------------------------------------------------------------


def test_recursion_defaults_to_terminate(lambda_client, make_function):
    name = make_function(SOURCE)

    config = lambda_client.get_function_recursion_config(FunctionName=name)

    assert without_metadata(config) == {"RecursiveLoop": "Terminate"}


def test_recursion_can_be_allowed_and_terminated_again(lambda_client, make_function):
    name = make_function(SOURCE)

    allowed = lambda_client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    read = lambda_client.get_function_recursion_config(FunctionName=name)
    lambda_client.put_function_recursion_config(FunctionName=name, RecursiveLoop="Terminate")

    assert without_metadata(allowed) == {"RecursiveLoop": "Allow"}
    assert read["RecursiveLoop"] == "Allow"
    assert lambda_client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == (
        "Terminate"
    )


@pytest.mark.parametrize("value", ["Block", "allow", None])
def test_recursive_loop_takes_only_allow_or_terminate(raw_lambda_client, make_function, value):
    name = make_function(SOURCE)
    settings = {} if value is None else {"RecursiveLoop": value}

    with pytest.raises(ClientError) as raised:
        raw_lambda_client.put_function_recursion_config(FunctionName=name, **settings)

    code, message = error(raised)
    assert code == "ValidationException"
    assert "at 'recursiveLoop'" in message
    assert raw_lambda_client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == (
        "Terminate"
    )


def test_recursion_of_an_unknown_function_is_404(lambda_client):
    missing = unique_name()

    with pytest.raises(ClientError) as raised:
        lambda_client.put_function_recursion_config(FunctionName=missing, RecursiveLoop="Allow")

    assert error(raised) == (
        "ResourceNotFoundException",
        f"Function not found: {ACCOUNT_ARN}:{missing}",
    )


def test_recursion_is_set_on_the_function_not_a_version(raw_lambda_client, make_function):
    name = make_function(SOURCE)

    with pytest.raises(ClientError) as raised:
        raw_lambda_client.get_function_recursion_config(FunctionName=f"{name}:1")

    assert error(raised)[0] == "ValidationException"


def test_settings_survive_a_restart_and_go_with_the_function(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="settled", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(SOURCE)},
    )  # fmt: skip
    client.put_function_recursion_config(FunctionName="settled", RecursiveLoop="Allow")
    client.put_runtime_management_config(
        FunctionName="settled", UpdateRuntimeOn="Manual", RuntimeVersionArn=RUNTIME_VERSION
    )

    server.stop()
    server.start()

    assert client.get_function_recursion_config(FunctionName="settled")["RecursiveLoop"] == "Allow"
    runtime = client.get_runtime_management_config(FunctionName="settled")
    assert runtime["RuntimeVersionArn"] == RUNTIME_VERSION
    client.delete_function(FunctionName="settled")
    client.create_function(
        FunctionName="settled", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(SOURCE)},
    )  # fmt: skip
    assert client.get_function_recursion_config(FunctionName="settled")["RecursiveLoop"] == (
        "Terminate"
    )
