"""Tags: TagResource, UntagResource, ListTags, and Tags on CreateFunction."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROLE, MakeFunction, client_for, handler_zip, wait_active

SOURCE = "def handler(event, context):\n    return 1\n"


def arn_of(client: Any, name: str) -> str:
    return str(client.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


def test_tags_are_added_listed_and_removed(lambda_client, make_function: MakeFunction):
    arn = arn_of(lambda_client, make_function(SOURCE, Tags={"team": "a"}))

    lambda_client.tag_resource(Resource=arn, Tags={"env": "test", "team": "b"})
    tagged = lambda_client.list_tags(Resource=arn)["Tags"]
    lambda_client.untag_resource(Resource=arn, TagKeys=["team", "not-there"])
    after = lambda_client.list_tags(Resource=arn)["Tags"]

    assert tagged == {"env": "test", "team": "b"}
    assert after == {"env": "test"}


def test_get_function_shows_tags_only_while_there_are_some(lambda_client, make_function):
    name = make_function(SOURCE, Tags={"k": "v"})
    arn = arn_of(lambda_client, name)

    assert lambda_client.get_function(FunctionName=name)["Tags"] == {"k": "v"}
    lambda_client.untag_resource(Resource=arn, TagKeys=["k"])
    assert "Tags" not in lambda_client.get_function(FunctionName=name)
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {}


def test_tagging_a_version_or_alias_arn_is_refused(lambda_client, make_function):
    arn = arn_of(lambda_client, make_function(SOURCE))

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as raised:
        lambda_client.tag_resource(Resource=f"{arn}:$LATEST", Tags={"a": "b"})

    assert "Tags on function aliases and versions are not supported" in str(raised.value)


def test_more_than_fifty_tags_are_refused_and_nothing_changes(lambda_client, make_function):
    arn = arn_of(lambda_client, make_function(SOURCE, Tags={"keep": "me"}))

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as raised:
        lambda_client.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(50)})

    assert "Number of tags exceeds resource tag limit." in str(raised.value)
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"keep": "me"}


def test_untag_without_keys_is_a_validation_error(raw_lambda_client, lambda_client, make_function):
    arn = arn_of(lambda_client, make_function(SOURCE))

    with pytest.raises(raw_lambda_client.exceptions.ClientError) as raised:
        raw_lambda_client.untag_resource(Resource=arn, TagKeys=[])

    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_tags_of_an_unknown_function_are_404(lambda_client):
    arn = "arn:aws:lambda:us-east-1:000000000000:function:never-made-xyz"

    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.list_tags(Resource=arn)


def test_tags_survive_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    arn = client.create_function(
        FunctionName="tagged", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(SOURCE)}, Tags={"persist": "yes"},
    )["FunctionArn"]  # fmt: skip
    wait_active(client, "tagged")

    server.stop()
    server.start()

    assert client.list_tags(Resource=arn)["Tags"] == {"persist": "yes"}
