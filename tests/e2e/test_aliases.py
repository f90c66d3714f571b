"""Aliases, end to end: Create/Get/Update/Delete/ListAliases, routing, invoking through them.

Drives the shared ``lamina serve`` through boto3 (status codes from its ResponseMetadata) and
checks what AWS answers (AWS-BEHAVIOUR.md §4). Functions report which code ran, their context
and a per-environment id in their return value.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import MakeFunction, client_for, wait_active
from tests.e2e.test_versions import (
    PRECONDITION_MESSAGE,
    create_published,
    error_of,
    fn_arn,
    publish_codes,
    reporter,
    run,
    status_of,
)

ALIAS_KEYS = {"AliasArn", "Name", "FunctionVersion", "Description", "RevisionId"}


def alias_of(response: dict[str, Any]) -> dict[str, Any]:
    """An alias answer without boto3's ResponseMetadata."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def routing(version: str, weight: float) -> dict[str, Any]:
    return {"AdditionalVersionWeights": {version: weight}}


@pytest.fixture
def versioned(lambda_client: Any, make_function: MakeFunction) -> str:
    """A function whose version 1 answers "one", version 2 "two" and version 3 "three"."""
    name = make_function(reporter("start"))
    publish_codes(lambda_client, name, "one", "two", "three")
    return name


# -- CreateAlias / GetAlias ----------------------------------------------------------------


def test_create_alias_answers_201_with_awss_fields(lambda_client, versioned):
    response = lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    assert status_of(response) == 201
    assert set(alias_of(response)) == ALIAS_KEYS
    assert (response["AliasArn"], response["Name"], response["FunctionVersion"]) == (
        fn_arn(versioned, "live"),
        "live",
        "1",
    )


def test_create_alias_without_description_has_an_empty_one(lambda_client, versioned):
    response = lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    assert response["Description"] == ""


def test_create_alias_with_weights_shows_its_routing_config(lambda_client, versioned):
    response = lambda_client.create_alias(
        FunctionName=versioned, Name="canary", FunctionVersion="1", RoutingConfig=routing("2", 0.25)
    )

    assert response["RoutingConfig"] == routing("2", 0.25)


def test_get_alias_returns_what_create_alias_returned(lambda_client, versioned):
    created = lambda_client.create_alias(
        FunctionName=versioned, Name="live", FunctionVersion="2", Description="production"
    )

    fetched = lambda_client.get_alias(FunctionName=versioned, Name="live")

    assert alias_of(fetched) == alias_of(created)


def test_an_alias_may_point_at_latest(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="head", FunctionVersion="$LATEST")

    answer = run(lambda_client, versioned, "head")

    assert (answer["executed"], answer["code"]) == ("$LATEST", "three")


def test_alias_named_like_a_date_is_accepted(lambda_client, versioned):
    response = lambda_client.create_alias(
        FunctionName=versioned, Name="2024-01-02", FunctionVersion="1"
    )

    assert response["AliasArn"] == fn_arn(versioned, "2024-01-02")


def test_alias_name_made_only_of_digits_is_a_validation_error(lambda_client, versioned):
    status, code, _ = error_of(
        lambda_client.create_alias, FunctionName=versioned, Name="20240102", FunctionVersion="1"
    )

    assert (status, code) == (400, "ValidationException")


def test_creating_a_duplicate_alias_is_409(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    status, code, message = error_of(
        lambda_client.create_alias, FunctionName=versioned, Name="live", FunctionVersion="2"
    )

    assert (status, code) == (409, "ResourceConflictException")
    assert message == f"Alias already exists: {fn_arn(versioned, 'live')}"


def test_alias_to_a_missing_version_is_404(lambda_client, versioned):
    status, code, message = error_of(
        lambda_client.create_alias, FunctionName=versioned, Name="live", FunctionVersion="9"
    )

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {fn_arn(versioned, '9')}"


def test_alias_routed_to_a_missing_version_is_404(lambda_client, versioned):
    status, code, message = error_of(
        lambda_client.create_alias,
        FunctionName=versioned,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig=routing("9", 0.5),
    )

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {fn_arn(versioned, '9')}"


def test_get_alias_of_an_unknown_alias_is_404(lambda_client, versioned):
    status, code, message = error_of(lambda_client.get_alias, FunctionName=versioned, Name="nope")

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Cannot find alias arn: {fn_arn(versioned, 'nope')}"


# -- Routing errors ------------------------------------------------------------------------


def test_routing_to_two_extra_versions_is_invalid(lambda_client, versioned):
    status, code, message = error_of(
        lambda_client.create_alias,
        FunctionName=versioned,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}},
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "Number of items in AdditionalVersionWeights cannot be greater than 1"


def test_routing_weight_above_one_is_a_validation_error(raw_lambda_client, versioned):
    status, code, _ = error_of(
        raw_lambda_client.create_alias,
        FunctionName=versioned,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig=routing("2", 1.5),
    )

    assert (status, code) == (400, "ValidationException")


def test_routing_to_the_primary_version_is_invalid(lambda_client, versioned):
    status, code, message = error_of(
        lambda_client.create_alias,
        FunctionName=versioned,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig=routing("1", 0.5),
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        "Invalid function version 1. Function version 1 is already included in routing "
        "configuration."
    )


def test_routing_from_a_latest_primary_is_invalid(lambda_client, versioned):
    status, code, message = error_of(
        lambda_client.create_alias,
        FunctionName=versioned,
        Name="canary",
        FunctionVersion="$LATEST",
        RoutingConfig=routing("1", 0.5),
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "$LATEST is not supported for an alias pointing to more than 1 version"


def test_latest_as_a_routing_key_is_a_validation_error(raw_lambda_client, versioned):
    status, code, _ = error_of(
        raw_lambda_client.create_alias,
        FunctionName=versioned,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig=routing("$LATEST", 0.5),
    )

    assert (status, code) == (400, "ValidationException")


# -- UpdateAlias ---------------------------------------------------------------------------


def test_update_alias_gives_a_new_revision_id_even_without_a_change(lambda_client, versioned):
    created = lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    updated = lambda_client.update_alias(FunctionName=versioned, Name="live")

    assert status_of(updated) == 200
    assert updated["RevisionId"] != created["RevisionId"]
    assert updated["FunctionVersion"] == "1"


def test_moving_an_alias_moves_invocations_at_once(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")
    before = run(lambda_client, versioned, "live")

    lambda_client.update_alias(FunctionName=versioned, Name="live", FunctionVersion="2")

    after = run(lambda_client, versioned, "live")
    assert (before["code"], after["code"]) == ("one", "two")
    assert after["executed"] == "2"


def test_update_alias_with_empty_weights_removes_the_routing(lambda_client, versioned):
    lambda_client.create_alias(
        FunctionName=versioned, Name="canary", FunctionVersion="1", RoutingConfig=routing("2", 0.5)
    )

    updated = lambda_client.update_alias(
        FunctionName=versioned, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}}
    )

    assert "RoutingConfig" not in updated
    assert "RoutingConfig" not in lambda_client.get_alias(FunctionName=versioned, Name="canary")


def test_update_alias_adds_routing_and_a_description(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    updated = lambda_client.update_alias(
        FunctionName=versioned, Name="live", Description="canary", RoutingConfig=routing("3", 0.5)
    )

    assert (updated["Description"], updated["RoutingConfig"]) == ("canary", routing("3", 0.5))


def test_update_alias_with_a_stale_revision_id_is_412(lambda_client, versioned):
    stale = lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")
    lambda_client.update_alias(FunctionName=versioned, Name="live", FunctionVersion="2")

    status, code, message = error_of(
        lambda_client.update_alias,
        FunctionName=versioned,
        Name="live",
        FunctionVersion="3",
        RevisionId=stale["RevisionId"],
    )

    assert (status, code, message) == (412, "PreconditionFailedException", PRECONDITION_MESSAGE)


def test_update_alias_with_the_current_revision_id_succeeds(lambda_client, versioned):
    created = lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    updated = lambda_client.update_alias(
        FunctionName=versioned, Name="live", FunctionVersion="2", RevisionId=created["RevisionId"]
    )

    assert updated["FunctionVersion"] == "2"


def test_update_alias_of_an_unknown_alias_is_404(lambda_client, versioned):
    status, code, message = error_of(
        lambda_client.update_alias, FunctionName=versioned, Name="nope", FunctionVersion="1"
    )

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Alias not found: {fn_arn(versioned, 'nope')}"


def test_update_alias_to_a_missing_version_is_404(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    status, code, message = error_of(
        lambda_client.update_alias, FunctionName=versioned, Name="live", FunctionVersion="9"
    )

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {fn_arn(versioned, '9')}"


# -- DeleteAlias / ListAliases -------------------------------------------------------------


def test_delete_alias_answers_204_and_the_alias_is_gone(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    response = lambda_client.delete_alias(FunctionName=versioned, Name="live")

    status, code, _ = error_of(lambda_client.get_alias, FunctionName=versioned, Name="live")
    assert status_of(response) == 204
    assert (status, code) == (404, "ResourceNotFoundException")


def test_deleting_an_alias_that_never_existed_answers_204(lambda_client, versioned):
    response = lambda_client.delete_alias(FunctionName=versioned, Name="never")

    assert status_of(response) == 204


def test_deleting_an_alias_frees_its_version_for_deletion(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")
    lambda_client.delete_alias(FunctionName=versioned, Name="live")

    response = lambda_client.delete_function(FunctionName=versioned, Qualifier="1")

    assert status_of(response) == 204


def test_list_aliases_lists_every_alias(lambda_client, versioned):
    for name, version in (("blue", "1"), ("green", "2"), ("latest", "$LATEST")):
        lambda_client.create_alias(FunctionName=versioned, Name=name, FunctionVersion=version)

    aliases = lambda_client.list_aliases(FunctionName=versioned)["Aliases"]

    assert sorted((a["Name"], a["FunctionVersion"]) for a in aliases) == [
        ("blue", "1"),
        ("green", "2"),
        ("latest", "$LATEST"),
    ]
    assert all(set(a) == ALIAS_KEYS for a in aliases)


def test_list_aliases_filters_by_function_version(lambda_client, versioned):
    for name, version in (("blue", "1"), ("green", "2"), ("teal", "2")):
        lambda_client.create_alias(FunctionName=versioned, Name=name, FunctionVersion=version)

    aliases = lambda_client.list_aliases(FunctionName=versioned, FunctionVersion="2")["Aliases"]

    assert sorted(a["Name"] for a in aliases) == ["green", "teal"]


def test_list_aliases_pages_through_every_alias_once(lambda_client, versioned):
    names = [f"a{i}" for i in range(5)]
    for name in names:
        lambda_client.create_alias(FunctionName=versioned, Name=name, FunctionVersion="1")
    paginator = lambda_client.get_paginator("list_aliases")

    pages = paginator.paginate(FunctionName=versioned, PaginationConfig={"PageSize": 2})

    assert sorted(a["Name"] for page in pages for a in page["Aliases"]) == names


def test_list_aliases_of_an_unknown_function_is_404(lambda_client):
    name = f"missing-{uuid.uuid4().hex[:8]}"

    status, code, message = error_of(lambda_client.list_aliases, FunctionName=name)

    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {fn_arn(name)}",
    )


def test_deleting_the_function_deletes_its_aliases(lambda_client, make_function):
    name = make_function(reporter())
    published = lambda_client.publish_version(FunctionName=name)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=published["Version"])
    lambda_client.delete_function(FunctionName=name)
    create_published(lambda_client, name)

    assert lambda_client.list_aliases(FunctionName=name)["Aliases"] == []


# -- Invoking and reading through an alias -------------------------------------------------


def test_invoking_through_an_alias_runs_its_version_under_the_alias_arn(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="2")

    answer = run(lambda_client, versioned, "live")

    assert (answer["executed"], answer["version"], answer["code"]) == ("2", "2", "two")
    assert answer["arn"] == fn_arn(versioned, "live")


def test_invoking_a_qualified_alias_name_runs_its_version(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="2")

    answer = run(lambda_client, f"{versioned}:live")

    assert (answer["executed"], answer["arn"]) == ("2", fn_arn(versioned, "live"))


def test_invoking_an_unknown_alias_is_404(lambda_client, versioned):
    status, code, message = error_of(
        lambda_client.invoke, FunctionName=versioned, Qualifier="nope", Payload=b"{}"
    )

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {fn_arn(versioned, 'nope')}"


def test_get_function_through_an_alias_shows_the_alias_arn_and_its_version(
    lambda_client, versioned
):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="2")

    config = lambda_client.get_function(FunctionName=versioned, Qualifier="live")["Configuration"]

    assert (config["FunctionArn"], config["Version"]) == (fn_arn(versioned, "live"), "2")


def test_weighted_alias_splits_invocations_by_its_weight(lambda_client, versioned):
    lambda_client.create_alias(
        FunctionName=versioned, Name="canary", FunctionVersion="1", RoutingConfig=routing("2", 0.3)
    )

    answers = [run(lambda_client, versioned, "canary") for _ in range(300)]

    # 0.3 ± 0.12 is more than four standard deviations of a binomial share over 300 draws.
    share = sum(a["executed"] == "2" for a in answers) / len(answers)
    assert 0.18 <= share <= 0.42
    assert {(a["executed"], a["version"], a["code"]) for a in answers} == {
        ("1", "1", "one"),
        ("2", "2", "two"),
    }


def test_each_version_keeps_its_own_environments(lambda_client, versioned):
    lambda_client.create_alias(FunctionName=versioned, Name="live", FunctionVersion="1")

    boots = {
        qualifier: {run(lambda_client, versioned, qualifier)["boot"] for _ in range(3)}
        for qualifier in ("1", "2", "live")
    }

    assert len(boots["1"]) == len(boots["2"]) == 1
    assert boots["1"] != boots["2"]
    assert boots["live"] == boots["1"]


# -- Persistence ---------------------------------------------------------------------------


def test_aliases_survive_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    name = f"persist-{uuid.uuid4().hex[:8]}"
    create_published(client, name)
    wait_active(client, name)
    publish_codes(client, name, "two")
    created = client.create_alias(
        FunctionName=name, Name="live", FunctionVersion="1", RoutingConfig=routing("2", 0.5)
    )

    server.stop()
    server.start()

    assert alias_of(client.get_alias(FunctionName=name, Name="live")) == alias_of(created)
    assert run(client, name, "live")["executed"] in {"1", "2"}
