"""Authentication: every API request's SigV4 signature is checked; accounts and policies."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ROLE, handler_zip, wait_active

OTHER = "111122223333"


def client(endpoint: str, key: str = "test", secret: str = "test", service: str = "lambda") -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip


def code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_a_wrong_secret_is_refused(lamina_server):
    assert (
        code(client(lamina_server.endpoint, secret="wrong").list_functions)
        == "InvalidSignatureException"
    )


def test_an_unknown_access_key_is_refused(lamina_server):
    assert (
        code(client(lamina_server.endpoint, key="nobody").list_functions)
        == "UnrecognizedClientException"
    )


def test_an_unsigned_request_is_refused_with_aws_error(lamina_server):
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{lamina_server.endpoint}/2015-03-31/functions/", timeout=5)
    raised.value.close()

    assert raised.value.code == 403
    assert raised.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_the_logs_api_checks_signatures_too(lamina_server):
    logs = client(lamina_server.endpoint, secret="wrong", service="logs")

    assert code(logs.describe_log_groups) == "InvalidSignatureException"


def test_with_auth_none_unsigned_requests_are_served(start_server):
    server = start_server("--auth", "none")

    with urllib.request.urlopen(f"{server.endpoint}/2015-03-31/functions/", timeout=5) as response:
        assert json.loads(response.read()) == {"Functions": []}


@pytest.fixture
def two_accounts(start_server) -> tuple[Any, Any]:
    """A server accepting a key of its own account and one of another account."""
    server = start_server("--credentials", f"test:test,other:secret:{OTHER}")
    owner, stranger = client(server.endpoint), client(server.endpoint, "other", "secret")
    owner.create_function(
        FunctionName="shared", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip("def handler(e, c):\n    return 'hi'\n")},
    )  # fmt: skip
    wait_active(owner, "shared")
    owner.publish_version(FunctionName="shared")
    return owner, stranger


def test_another_account_cannot_invoke_without_a_policy(two_accounts):
    _, stranger = two_accounts

    with pytest.raises(ClientError) as raised:
        stranger.invoke(FunctionName="shared")

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "no resource-based policy allows the lambda:InvokeFunction action" in str(raised.value)


def test_a_policy_statement_lets_another_account_invoke(two_accounts):
    owner, stranger = two_accounts
    owner.add_permission(
        FunctionName="shared", StatementId="other", Action="lambda:InvokeFunction", Principal=OTHER
    )

    response = stranger.invoke(FunctionName="shared")

    assert json.loads(response["Payload"].read()) == "hi"


def test_another_account_cannot_manage_the_function(two_accounts):
    owner, stranger = two_accounts
    owner.add_permission(
        FunctionName="shared", StatementId="other", Action="lambda:InvokeFunction", Principal=OTHER
    )

    assert code(lambda: stranger.get_function(FunctionName="shared")) == "AccessDeniedException"
    assert code(lambda: stranger.delete_function(FunctionName="shared")) == "AccessDeniedException"


def test_another_account_streams_an_invocation_only_with_a_policy(two_accounts):
    owner, stranger = two_accounts
    arn = owner.get_function(FunctionName="shared")["Configuration"]["FunctionArn"]

    refused = code(lambda: stranger.invoke_with_response_stream(FunctionName=arn))
    owner.add_permission(
        FunctionName="shared", StatementId="other", Action="lambda:InvokeFunction", Principal=OTHER
    )
    events = list(stranger.invoke_with_response_stream(FunctionName=arn)["EventStream"])

    assert refused == "AccessDeniedException"
    assert events == [{"PayloadChunk": {"Payload": b'"hi"'}}, {"InvokeComplete": {}}]
