"""Published versions, end to end: PublishVersion, ListVersionsByFunction, qualifiers.

Drives the shared ``lamina serve`` through boto3 and checks what AWS answers (AWS-BEHAVIOUR.md
§1 on qualifiers, §3 on versions). Functions report their code, environment and context in
their return value, which is how a test sees which version ran.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ROLE,
    client_for,
    handler_zip,
    invoke,
    unique_name,
    wait_active,
)

REGION = "us-east-1"
ACCOUNT = "000000000000"
PRECONDITION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)

REPORTER = """
import os
import uuid

BOOT = uuid.uuid4().hex
CODE = %r


def handler(event, context):
    return {
        "code": CODE,
        "mark": os.environ.get("MARK"),
        "boot": BOOT,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
    }
"""


# -- helpers (also used by test_aliases.py) -------------------------------------------------


def reporter(code: str = "one") -> str:
    """Handler source that answers with ``code``, $MARK, a per-environment id and its context."""
    return REPORTER % code


def reporter_zip(code: str) -> bytes:
    return handler_zip(reporter(code))


def fn_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response
    return (
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Code"],
        error["Error"]["Message"],
    )


def status_of(response: dict[str, Any]) -> int:
    return int(response["ResponseMetadata"]["HTTPStatusCode"])


def describe(client: Any, name: str, description: str) -> None:
    """Change $LATEST's description and wait for the update to finish."""
    client.update_function_configuration(FunctionName=name, Description=description)
    wait_active(client, name)


def recode(client: Any, name: str, code: str) -> None:
    """Give $LATEST the reporter answering ``code`` and wait for the update to finish."""
    client.update_function_code(FunctionName=name, ZipFile=reporter_zip(code))
    wait_active(client, name)


def publish_codes(client: Any, name: str, *codes: str) -> list[str]:
    """Publish one version per code (``code`` in each one's answer); their numbers."""
    numbers = []
    for code in codes:
        recode(client, name, code)
        numbers.append(client.publish_version(FunctionName=name)["Version"])
    return numbers


def run(client: Any, name: str, qualifier: str | None = None) -> dict[str, Any]:
    """Invoke (optionally qualified) and return the reporter's answer."""
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    response, body = invoke(client, name, {}, **kwargs)
    assert "FunctionError" not in response, body
    answer: dict[str, Any] = body
    answer["executed"] = response["ExecutedVersion"]
    return answer


@pytest.fixture
def fresh_name(lambda_client: Any) -> Iterator[str]:
    """A unique function name, deleted after the test if it was created."""
    name = unique_name()
    yield name
    with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.delete_function(FunctionName=name)


def create_published(
    client: Any, name: str, *, publish: bool = True, **settings: Any
) -> dict[str, Any]:
    """CreateFunction of the reporter answering "one", with Publish unless told otherwise."""
    response: dict[str, Any] = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": reporter_zip("one")},
        Publish=publish,
        **settings,
    )
    return response


# -- PublishVersion ------------------------------------------------------------------------


def test_publish_version_answers_201_with_version_1_and_its_arn(lambda_client, make_function):
    name = make_function(reporter())

    response = lambda_client.publish_version(FunctionName=name)

    assert status_of(response) == 201
    assert (response["Version"], response["FunctionArn"]) == ("1", fn_arn(name, "1"))


def test_versions_are_numbered_upwards_from_one(lambda_client, make_function):
    name = make_function(reporter())

    numbers = publish_codes(lambda_client, name, "a", "b", "c")
    arn = lambda_client.get_function_configuration(FunctionName=name, Qualifier="3")["FunctionArn"]

    assert numbers == ["1", "2", "3"]
    assert arn == fn_arn(name, "3")


def test_published_version_takes_the_description_given_to_publish(lambda_client, make_function):
    name = make_function(reporter(), Description="function's")

    response = lambda_client.publish_version(FunctionName=name, Description="release 1")

    assert response["Description"] == "release 1"


def test_published_version_without_a_description_takes_the_functions(lambda_client, make_function):
    name = make_function(reporter(), Description="function's")

    response = lambda_client.publish_version(FunctionName=name)

    assert response["Description"] == "function's"


def test_publishing_again_without_a_change_returns_the_same_version(lambda_client, make_function):
    name = make_function(reporter())
    first = lambda_client.publish_version(FunctionName=name, Description="first")

    again = lambda_client.publish_version(FunctionName=name, Description="ignored")

    assert (again["Version"], again["RevisionId"]) == ("1", first["RevisionId"])
    assert again["Description"] == "first"


def test_a_change_of_description_alone_makes_a_new_version(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)
    describe(lambda_client, name, "only the description changed")

    response = lambda_client.publish_version(FunctionName=name)

    assert response["Version"] == "2"


def test_publish_with_a_wrong_code_sha256_is_invalid_parameter_value(lambda_client, make_function):
    name = make_function(reporter())
    current = lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]

    status, code, message = error_of(
        lambda_client.publish_version, FunctionName=name, CodeSha256="wrong"
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        f"CodeSHA256 (wrong) is different from current CodeSHA256 in $LATEST ({current}). "
        "Please try again with the CodeSHA256 in $LATEST."
    )


def test_publish_with_the_current_code_sha256_publishes(lambda_client, make_function):
    name = make_function(reporter())
    current = lambda_client.get_function_configuration(FunctionName=name)["CodeSha256"]

    response = lambda_client.publish_version(FunctionName=name, CodeSha256=current)

    assert (response["Version"], response["CodeSha256"]) == ("1", current)


def test_publish_with_a_stale_revision_id_is_412(lambda_client, make_function):
    name = make_function(reporter())
    stale = lambda_client.get_function_configuration(FunctionName=name)["RevisionId"]
    describe(lambda_client, name, "moved on")

    status, code, message = error_of(
        lambda_client.publish_version, FunctionName=name, RevisionId=stale
    )

    assert (status, code, message) == (412, "PreconditionFailedException", PRECONDITION_MESSAGE)


def test_published_version_runs_its_own_code_and_environment_after_latest_changes(
    lambda_client, make_function
):
    name = make_function(reporter("old code"), Environment={"Variables": {"MARK": "old"}})
    lambda_client.publish_version(FunctionName=name)
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MARK": "new"}}
    )
    wait_active(lambda_client, name)
    recode(lambda_client, name, "new code")

    pinned, latest = run(lambda_client, name, "1"), run(lambda_client, name)

    assert (pinned["code"], pinned["mark"]) == ("old code", "old")
    assert (latest["code"], latest["mark"]) == ("new code", "new")


def test_published_version_keeps_its_configuration_after_latest_changes(
    lambda_client, make_function
):
    name = make_function(reporter(), MemorySize=256, Environment={"Variables": {"MARK": "old"}})
    before = lambda_client.publish_version(FunctionName=name)
    lambda_client.update_function_configuration(
        FunctionName=name, MemorySize=512, Environment={"Variables": {"MARK": "new"}}
    )
    wait_active(lambda_client, name)
    recode(lambda_client, name, "changed")

    after = lambda_client.get_function_configuration(FunctionName=name, Qualifier="1")

    assert (after["MemorySize"], after["Environment"]) == (256, {"Variables": {"MARK": "old"}})
    assert after["CodeSha256"] == before["CodeSha256"]


def test_a_published_version_runs_with_its_number_as_function_version(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    answer = run(lambda_client, name, "1")

    assert (answer["version"], answer["executed"]) == ("1", "1")


def test_latest_runs_with_latest_as_function_version(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    answer = run(lambda_client, name)

    assert (answer["version"], answer["executed"]) == ("$LATEST", "$LATEST")


def test_version_numbers_are_never_reused_after_deleting_a_version(lambda_client, make_function):
    name = make_function(reporter())
    publish_codes(lambda_client, name, "a", "b")
    lambda_client.delete_function(FunctionName=name, Qualifier="2")
    recode(lambda_client, name, "c")

    response = lambda_client.publish_version(FunctionName=name)

    assert response["Version"] == "3"


def test_published_version_active_waiter_sees_the_version_become_active(
    lambda_client, make_function
):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )

    config = lambda_client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert config["State"] == "Active"


# -- Publish on CreateFunction and UpdateFunctionCode --------------------------------------


def test_create_function_with_publish_answers_version_1_under_the_unqualified_arn(
    lambda_client, fresh_name
):
    response = create_published(lambda_client, fresh_name)

    assert status_of(response) == 201
    assert (response["Version"], response["FunctionArn"]) == ("1", fn_arn(fresh_name))
    assert response["State"] == "Pending"


def test_create_function_with_publish_creates_version_1(lambda_client, fresh_name):
    create_published(lambda_client, fresh_name)
    wait_active(lambda_client, fresh_name)

    versions = lambda_client.list_versions_by_function(FunctionName=fresh_name)["Versions"]

    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    assert run(lambda_client, fresh_name, "1")["executed"] == "1"


def test_function_created_with_publish_publishes_its_next_version_as_2(lambda_client, fresh_name):
    create_published(lambda_client, fresh_name)
    wait_active(lambda_client, fresh_name)
    describe(lambda_client, fresh_name, "changed")

    response = lambda_client.publish_version(FunctionName=fresh_name)

    assert response["Version"] == "2"


def test_update_function_code_with_publish_returns_the_new_version(lambda_client, make_function):
    name = make_function(reporter("first"))
    lambda_client.publish_version(FunctionName=name)

    response = lambda_client.update_function_code(
        FunctionName=name, ZipFile=reporter_zip("second"), Publish=True
    )

    assert (response["Version"], response["State"]) == ("2", "Pending")
    assert run(lambda_client, name, "2")["code"] == "second"


# -- ListVersionsByFunction ----------------------------------------------------------------


def test_list_versions_starts_with_latest_then_versions_ascending(lambda_client, make_function):
    name = make_function(reporter())
    publish_codes(lambda_client, name, "a", "b")

    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]

    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in versions] == [
        fn_arn(name, "$LATEST"),
        fn_arn(name, "1"),
        fn_arn(name, "2"),
    ]


def test_list_versions_pages_through_every_version_once_ending_with_the_newest(
    lambda_client, make_function
):
    name = make_function(reporter())
    publish_codes(lambda_client, name, "a", "b", "c", "d", "e")
    paginator = lambda_client.get_paginator("list_versions_by_function")

    pages = list(paginator.paginate(FunctionName=name, PaginationConfig={"PageSize": 2}))

    listed = [v["Version"] for page in pages for v in page["Versions"]]
    assert (len(pages), listed) == (3, ["$LATEST", "1", "2", "3", "4", "5"])
    assert pages[-1]["Versions"][-1]["FunctionArn"] == fn_arn(name, "5")


def test_list_versions_of_an_unknown_function_is_404(lambda_client):
    name = unique_name()

    status, code, message = error_of(lambda_client.list_versions_by_function, FunctionName=name)

    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {fn_arn(name)}",
    )


# -- Qualifiers ----------------------------------------------------------------------------


def test_get_function_with_qualifier_1_shows_version_1(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    config = lambda_client.get_function(FunctionName=name, Qualifier="1")["Configuration"]

    assert (config["FunctionArn"], config["Version"]) == (fn_arn(name, "1"), "1")


def test_get_function_configuration_of_a_qualified_name_shows_that_version(
    lambda_client, make_function
):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    config = lambda_client.get_function_configuration(FunctionName=f"{name}:1")

    assert (config["FunctionArn"], config["Version"]) == (fn_arn(name, "1"), "1")


def test_get_function_by_a_version_arn_shows_that_version(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    config = lambda_client.get_function(FunctionName=fn_arn(name, "1"))["Configuration"]

    assert (config["FunctionArn"], config["Version"]) == (fn_arn(name, "1"), "1")


def test_get_function_with_qualifier_latest_shows_the_latest_arn(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    config = lambda_client.get_function(FunctionName=name, Qualifier="$LATEST")["Configuration"]

    assert (config["FunctionArn"], config["Version"]) == (fn_arn(name, "$LATEST"), "$LATEST")


def test_get_function_of_an_unknown_version_is_404_naming_the_version(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    status, code, message = error_of(
        lambda_client.get_function_configuration, FunctionName=name, Qualifier="2"
    )

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {fn_arn(name, '2')}"


def test_invoke_with_qualifier_1_runs_version_1_under_its_arn(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    response, body = invoke(lambda_client, name, {}, Qualifier="1")

    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "1"
    assert body["arn"] == fn_arn(name, "1")


def test_invoking_an_unknown_version_is_404(lambda_client, make_function):
    name = make_function(reporter())

    status, code, message = error_of(
        lambda_client.invoke, FunctionName=name, Qualifier="1", Payload=b"{}"
    )

    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {fn_arn(name, '1')}",
    )


def test_delete_function_with_a_version_deletes_only_that_version(lambda_client, make_function):
    name = make_function(reporter())
    publish_codes(lambda_client, name, "a", "b")

    response = lambda_client.delete_function(FunctionName=name, Qualifier="1")

    versions = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert status_of(response) == 204
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]


def test_a_deleted_version_is_404(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)
    lambda_client.delete_function(FunctionName=name, Qualifier="1")

    status, code, message = error_of(lambda_client.invoke, FunctionName=name, Qualifier="1")

    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {fn_arn(name, '1')}",
    )


def test_deleting_an_unknown_version_is_404(lambda_client, make_function):
    name = make_function(reporter())

    status, code, message = error_of(
        lambda_client.delete_function, FunctionName=name, Qualifier="4"
    )

    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {fn_arn(name, '4')}",
    )


def test_deleting_latest_by_qualifier_is_400(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)

    status, code, message = error_of(
        lambda_client.delete_function, FunctionName=name, Qualifier="$LATEST"
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "$LATEST version cannot be deleted without deleting the function."


def test_deleting_a_version_an_alias_points_to_is_409(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")

    status, code, _ = error_of(lambda_client.delete_function, FunctionName=name, Qualifier="1")

    assert (status, code) == (409, "ResourceConflictException")
    assert (
        lambda_client.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Version"]
        == "1"
    )


def test_deleting_a_version_an_alias_routes_to_is_409(lambda_client, make_function):
    name = make_function(reporter())
    publish_codes(lambda_client, name, "a", "b")
    lambda_client.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )

    status, code, _ = error_of(lambda_client.delete_function, FunctionName=name, Qualifier="2")

    assert (status, code) == (409, "ResourceConflictException")


def test_list_functions_with_all_versions_lists_latest_and_each_version(
    lambda_client, make_function
):
    name = make_function(reporter())
    publish_codes(lambda_client, name, "a", "b")
    paginator = lambda_client.get_paginator("list_functions")

    listed = [
        (f["Version"], f["FunctionArn"])
        for page in paginator.paginate(FunctionVersion="ALL")
        for f in page["Functions"]
        if f["FunctionName"] == name
    ]

    assert sorted(listed) == sorted(
        [("$LATEST", fn_arn(name, "$LATEST")), ("1", fn_arn(name, "1")), ("2", fn_arn(name, "2"))]
    )


def test_list_functions_by_default_lists_only_latest_unqualified(lambda_client, make_function):
    name = make_function(reporter())
    lambda_client.publish_version(FunctionName=name)
    paginator = lambda_client.get_paginator("list_functions")

    listed = [
        (f["Version"], f["FunctionArn"])
        for page in paginator.paginate()
        for f in page["Functions"]
        if f["FunctionName"] == name
    ]

    assert listed == [("$LATEST", fn_arn(name))]


def test_deleting_the_function_deletes_its_versions(lambda_client, fresh_name):
    create_published(lambda_client, fresh_name)
    wait_active(lambda_client, fresh_name)
    lambda_client.delete_function(FunctionName=fresh_name)
    create_published(lambda_client, fresh_name, publish=False)

    versions = lambda_client.list_versions_by_function(FunctionName=fresh_name)["Versions"]

    assert [v["Version"] for v in versions] == ["$LATEST"]


# -- Persistence ---------------------------------------------------------------------------


def test_versions_survive_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    name = f"persist-{uuid.uuid4().hex[:8]}"
    create_published(client, name)
    wait_active(client, name)
    publish_codes(client, name, "two")

    server.stop()
    server.start()

    versions = client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert (run(client, name, "1")["code"], run(client, name, "2")["code"]) == ("one", "two")
