"""Function URL configurations through boto3: CRUD, AWS's errors, cascades, restarts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, call_url, client_for, handler_zip, wait_active

SOURCE = "def handler(event, context):\n    return 'hi'\n"
URL = re.compile(r"http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/")
NOT_FOUND = "The resource you requested does not exist."
NO_FUNCTION = "Function does not exist"


def error(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def with_alias(client: Any, name: str, alias: str = "live") -> str:
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    return alias


def test_create_answers_201_with_a_reachable_url(lambda_client, make_function, lamina_server):
    name = make_function(SOURCE)

    created = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    found = URL.fullmatch(created["FunctionUrl"])
    assert found is not None and int(found[2]) == lamina_server.port
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["AuthType"] == "NONE"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", created["CreationTime"])
    assert "InvokeMode" not in created and "LastModifiedTime" not in created


def test_get_adds_invoke_mode_and_last_modified_time(lambda_client, make_function):
    name = make_function(SOURCE)
    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"], "MaxAge": 60}
    created = lambda_client.create_function_url_config(
        FunctionName=name, AuthType="AWS_IAM", Cors=cors
    )

    got = lambda_client.get_function_url_config(FunctionName=name)

    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert got["InvokeMode"] == "BUFFERED"
    assert got["LastModifiedTime"] == got["CreationTime"] == created["CreationTime"]
    assert got["Cors"] == cors
    assert got["AuthType"] == "AWS_IAM"


def test_invoke_mode_given_on_create_is_echoed(lambda_client, make_function):
    name = make_function(SOURCE)

    created = lambda_client.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )

    assert created["InvokeMode"] == "RESPONSE_STREAM"
    assert lambda_client.get_function_url_config(FunctionName=name)["InvokeMode"] == (
        "RESPONSE_STREAM"
    )


def test_a_second_url_for_the_same_function_is_a_conflict(lambda_client, make_function):
    name = make_function(SOURCE)
    lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")

    assert error(lambda_client.create_function_url_config, FunctionName=name, AuthType="NONE") == (
        409,
        "ResourceConflictException",
        "Failed to create function url config for [functionArn = "
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function",
    )


def test_an_alias_has_its_own_url(lambda_client, make_function):
    name = make_function(SOURCE)
    alias = with_alias(lambda_client, name)
    plain = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")

    by_qualifier = lambda_client.create_function_url_config(
        FunctionName=name, Qualifier=alias, AuthType="NONE"
    )

    assert by_qualifier["FunctionArn"].endswith(f":function:{name}:{alias}")
    assert by_qualifier["FunctionUrl"] != plain["FunctionUrl"]
    by_name = lambda_client.get_function_url_config(FunctionName=f"{name}:{alias}")
    assert by_name["FunctionUrl"] == by_qualifier["FunctionUrl"]


@pytest.mark.parametrize(
    ("qualifier", "pattern"),
    [
        ("$LATEST", r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"),
        ("1", r"(^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))"),
    ],
)
@pytest.mark.parametrize("operation", ["create", "get", "update", "delete"])
def test_latest_and_versions_cannot_have_urls(
    lambda_client, make_function, qualifier, pattern, operation
):
    name = make_function(SOURCE)
    lambda_client.publish_version(FunctionName=name)
    call = getattr(lambda_client, f"{operation}_function_url_config")
    extra = {"AuthType": "NONE"} if operation in ("create", "update") else {}

    assert error(call, FunctionName=name, Qualifier=qualifier, **extra) == (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}",
    )


@pytest.mark.parametrize(
    ("operation", "message"),
    [("create", NO_FUNCTION), ("update", NO_FUNCTION), ("get", NOT_FOUND), ("delete", NOT_FOUND)],
)
def test_an_unknown_function_is_404_with_aws_message(lambda_client, operation, message):
    call = getattr(lambda_client, f"{operation}_function_url_config")
    extra = {"AuthType": "NONE"} if operation in ("create", "update") else {}

    assert error(call, FunctionName="no-such-function", **extra) == (
        404,
        "ResourceNotFoundException",
        message,
    )


@pytest.mark.parametrize(
    ("operation", "message"),
    [("create", NO_FUNCTION), ("update", NO_FUNCTION), ("get", NOT_FOUND), ("delete", NOT_FOUND)],
)
def test_an_unknown_alias_is_404(lambda_client, make_function, operation, message):
    name = make_function(SOURCE)
    call = getattr(lambda_client, f"{operation}_function_url_config")
    extra = {"AuthType": "NONE"} if operation in ("create", "update") else {}

    assert error(call, FunctionName=name, Qualifier="nosuchalias", **extra)[1:] == (
        "ResourceNotFoundException",
        message,
    )


@pytest.mark.parametrize("operation", ["get", "update", "delete"])
def test_a_function_without_url_is_404(lambda_client, make_function, operation):
    name = make_function(SOURCE)
    call = getattr(lambda_client, f"{operation}_function_url_config")
    extra = {"AuthType": "NONE"} if operation == "update" else {}

    assert error(call, FunctionName=name, **extra) == (404, "ResourceNotFoundException", NOT_FOUND)


def test_update_changes_settings_and_keeps_the_url(lambda_client, make_function):
    name = make_function(SOURCE)
    created = lambda_client.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )

    updated = lambda_client.update_function_url_config(
        FunctionName=name, AuthType="AWS_IAM", Cors={"AllowOrigins": ["*"]}
    )

    assert updated["FunctionUrl"] == created["FunctionUrl"]
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["Cors"] == {"AllowOrigins": ["*"]}
    assert updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["CreationTime"] == created["CreationTime"]
    assert updated["LastModifiedTime"] > created["CreationTime"]
    assert lambda_client.get_function_url_config(FunctionName=name)["AuthType"] == "AWS_IAM"


def test_delete_answers_204_and_leaves_the_alias_url(lambda_client, make_function):
    name = make_function(SOURCE)
    alias = with_alias(lambda_client, name)
    lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    kept = lambda_client.create_function_url_config(
        FunctionName=name, Qualifier=alias, AuthType="NONE"
    )

    deleted = lambda_client.delete_function_url_config(FunctionName=name)

    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error(lambda_client.get_function_url_config, FunctionName=name)[0] == 404
    got = lambda_client.get_function_url_config(FunctionName=name, Qualifier=alias)
    assert got["FunctionUrl"] == kept["FunctionUrl"]


def test_list_pages_with_marker_and_max_items(lambda_client, make_function):
    name = make_function(SOURCE)
    alias = with_alias(lambda_client, name)
    assert lambda_client.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    urls = {
        lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"],
        lambda_client.create_function_url_config(
            FunctionName=name, Qualifier=alias, AuthType="NONE"
        )["FunctionUrl"],
    }

    first = lambda_client.list_function_url_configs(FunctionName=name, MaxItems=1)
    second = lambda_client.list_function_url_configs(
        FunctionName=name, MaxItems=1, Marker=first["NextMarker"]
    )

    listed = first["FunctionUrlConfigs"] + second["FunctionUrlConfigs"]
    assert {c["FunctionUrl"] for c in listed} == urls
    assert "NextMarker" not in second
    assert all(c["InvokeMode"] == "BUFFERED" and "LastModifiedTime" in c for c in listed)


def test_list_of_an_unknown_function_is_404(lambda_client):
    assert error(lambda_client.list_function_url_configs, FunctionName="no-such-function") == (
        404,
        "ResourceNotFoundException",
        NO_FUNCTION,
    )


@pytest.mark.parametrize(
    ("settings", "member"),
    [
        ({"AuthType": "BASIC"}, "authType"),
        ({}, "authType"),
        ({"AuthType": "NONE", "InvokeMode": "UNKNOWN"}, "invokeMode"),
        ({"AuthType": "NONE", "Cors": {"MaxAge": 86401}}, "cors.maxAge"),
        ({"AuthType": "NONE", "Cors": {"AllowMethods": ["GETTING"]}}, "cors.allowMethods"),
        ({"AuthType": "NONE", "Cors": {"AllowOrigins": [""]}}, "cors.allowOrigins"),
        ({"AuthType": "NONE", "Cors": {"AllowHeaders": ["h"] * 101}}, "cors.allowHeaders"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_stored(
    lambda_client, raw_lambda_client, make_function, settings, member
):
    name = make_function(SOURCE)

    status, code, message = error(
        raw_lambda_client.create_function_url_config, FunctionName=name, **settings
    )

    assert (status, code) == (400, "ValidationException")
    assert f"at '{member}' failed to satisfy constraint" in message
    assert error(lambda_client.get_function_url_config, FunctionName=name)[0] == 404


def test_invalid_invoke_mode_names_the_enum(raw_lambda_client, make_function):
    name = make_function(SOURCE)

    assert error(
        raw_lambda_client.create_function_url_config,
        FunctionName=name,
        AuthType="NONE",
        InvokeMode="UNKNOWN",
    )[2] == (
        "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"
    )


def test_deleting_the_function_deletes_its_urls(lambda_client, make_function):
    name = make_function(SOURCE)
    lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")

    lambda_client.delete_function(FunctionName=name)
    make_function(SOURCE, FunctionName=name)

    assert error(lambda_client.get_function_url_config, FunctionName=name)[0] == 404
    assert lambda_client.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []


def test_deleting_an_alias_deletes_its_url(lambda_client, make_function):
    name = make_function(SOURCE)
    alias = with_alias(lambda_client, name)
    lambda_client.create_function_url_config(FunctionName=name, Qualifier=alias, AuthType="NONE")

    lambda_client.delete_alias(FunctionName=name, Name=alias)
    with_alias(lambda_client, name, alias)

    assert (
        error(lambda_client.get_function_url_config, FunctionName=name, Qualifier=alias)[0] == 404
    )


def test_urls_survive_a_restart_and_still_serve(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="kept", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(SOURCE)},
    )  # fmt: skip
    wait_active(client, "kept")
    created = client.create_function_url_config(FunctionName="kept", AuthType="NONE")
    client.add_permission(
        FunctionName="kept", StatementId="url", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip

    server.stop()
    server.start()

    got = client.get_function_url_config(FunctionName="kept")
    assert (got["FunctionUrl"], got["CreationTime"]) == (
        created["FunctionUrl"],
        created["CreationTime"],
    )
    answered = call_url(got["FunctionUrl"])
    assert (answered.status, answered.body) == (200, b"hi")
