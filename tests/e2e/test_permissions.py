"""Resource-based policies: AddPermission, GetPolicy, RemovePermission, with AWS's shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, MakeFunction, client_for, handler_zip, wait_active

SOURCE = "def handler(event, context):\n    return 1\n"


def allow_s3(client: Any, name: str, sid: str = "s3", **extra: Any) -> dict[str, Any]:
    response = client.add_permission(
        FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", **extra,
    )  # fmt: skip
    return dict(json.loads(response["Statement"]))


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_add_permission_answers_the_statement_in_aws_shape(
    lambda_client, make_function: MakeFunction
):
    name = make_function(SOURCE)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]

    statement = allow_s3(lambda_client, name, SourceArn="arn:aws:s3:::bucket")

    assert statement == {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}},
    }


def test_get_policy_lists_statements_in_order_with_the_functions_revision(
    lambda_client, make_function
):
    name = make_function(SOURCE)
    before = lambda_client.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    allow_s3(lambda_client, name, "first")
    allow_s3(lambda_client, name, "second")

    got = lambda_client.get_policy(FunctionName=name)
    policy = json.loads(got["Policy"])

    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["first", "second"]
    assert (
        got["RevisionId"]
        == lambda_client.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    )
    assert got["RevisionId"] != before


def test_principals_take_aws_forms(lambda_client, make_function):
    name = make_function(SOURCE)

    everyone = lambda_client.add_permission(
        FunctionName=name, StatementId="all", Action="lambda:InvokeFunction", Principal="*"
    )
    account = lambda_client.add_permission(
        FunctionName=name, StatementId="acct", Action="lambda:GetFunction", Principal="123456789012"
    )

    assert json.loads(everyone["Statement"])["Principal"] == "*"
    assert json.loads(account["Statement"])["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:root"
    }


def test_a_duplicate_statement_id_is_a_conflict(lambda_client, make_function):
    name = make_function(SOURCE)
    allow_s3(lambda_client, name, "same")

    with pytest.raises(ClientError) as raised:
        allow_s3(lambda_client, name, "same")

    assert error(raised) == (
        "ResourceConflictException",
        "The statement id (same) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
    )


def test_remove_permission_and_its_errors(lambda_client, make_function):
    name = make_function(SOURCE)
    with pytest.raises(ClientError) as no_policy:
        lambda_client.remove_permission(FunctionName=name, StatementId="x")
    allow_s3(lambda_client, name, "gone")

    lambda_client.remove_permission(FunctionName=name, StatementId="gone")

    assert error(no_policy) == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )
    with pytest.raises(ClientError) as empty:
        lambda_client.get_policy(FunctionName=name)
    assert error(empty) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )


def test_removing_an_unknown_statement_is_404(lambda_client, make_function):
    name = make_function(SOURCE)
    allow_s3(lambda_client, name, "kept")

    with pytest.raises(ClientError) as raised:
        lambda_client.remove_permission(FunctionName=name, StatementId="other")

    assert error(raised) == (
        "ResourceNotFoundException",
        "Statement other is not found in resource policy.",
    )


def test_policies_are_per_qualifier_and_latest_is_refused(lambda_client, make_function):
    name = make_function(SOURCE)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    with pytest.raises(ClientError) as latest:
        allow_s3(lambda_client, name, Qualifier="$LATEST")

    statement = allow_s3(lambda_client, name, "v", Qualifier=version)

    assert error(latest) == (
        "InvalidParameterValueException",
        "We currently do not support adding policies for $LATEST.",
    )
    assert statement["Resource"].endswith(f":{version}")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_policy(FunctionName=name)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Principal": "not a principal"}, "InvalidParameterValueException"),
        ({"StatementId": "has.dot"}, "ValidationException"),
        ({"RevisionId": "stale"}, "PreconditionFailedException"),
        ({"FunctionUrlAuthType": "BASIC"}, "ValidationException"),
    ],
)
def test_bad_permissions_are_refused_and_nothing_is_stored(
    lambda_client, make_function, change, code
):
    name = make_function(SOURCE)
    request = {"FunctionName": name, "StatementId": "ok", "Action": "lambda:InvokeFunction",
               "Principal": "s3.amazonaws.com", **change}  # fmt: skip

    with pytest.raises(ClientError) as raised:
        lambda_client.add_permission(**request)

    assert raised.value.response["Error"]["Code"] == code
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_policy(FunctionName=name)


def test_a_policy_survives_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="guarded", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(SOURCE)},
    )  # fmt: skip
    wait_active(client, "guarded")
    allow_s3(client, "guarded", "kept")

    server.stop()
    server.start()

    assert [
        s["Sid"]
        for s in json.loads(client.get_policy(FunctionName="guarded")["Policy"])["Statement"]
    ] == ["kept"]
