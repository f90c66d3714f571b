"""Code signing configurations and a function's configuration, with AWS's shapes and errors.

Shapes and messages follow LocalStack's recordings against AWS
(test_lambda_api.snapshot.json::TestCodeSigningConfig).
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, MakeFunction, client_for, handler_zip, signed_request, unique_name

SOURCE = "def handler(event, context):\n    return 1\n"
PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/test"
UNKNOWN = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"
LAST_MODIFIED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


def create_csc(client: Any, **extra: Any) -> dict[str, Any]:
    response = client.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}, **extra
    )
    return dict(response["CodeSigningConfig"])


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def quoted(arn: str) -> str:
    return urllib.parse.quote(arn, safe="")


def test_create_answers_201_with_the_configuration_in_aws_shape(lambda_client):
    response = lambda_client.create_code_signing_config(
        Description="Testing CodeSigning Config",
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )

    config = response["CodeSigningConfig"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(r"csc-[0-9a-f]{17}", config["CodeSigningConfigId"])
    assert config["CodeSigningConfigArn"] == (
        f"arn:aws:lambda:us-east-1:000000000000:code-signing-config:{config['CodeSigningConfigId']}"
    )
    assert LAST_MODIFIED.fullmatch(config["LastModified"])
    assert {k: config[k] for k in ("Description", "AllowedPublishers", "CodeSigningPolicies")} == {
        "Description": "Testing CodeSigning Config",
        "AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]},
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
    }


def test_the_policy_defaults_to_warn(lambda_client):
    config = create_csc(lambda_client)

    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert config["Description"] == ""


def test_get_and_update_a_configuration(lambda_client):
    created = create_csc(lambda_client, Description="before")
    arn = created["CodeSigningConfigArn"]

    updated = lambda_client.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"}
    )["CodeSigningConfig"]
    got = lambda_client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]

    assert got == updated
    assert got["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    assert (got["Description"], got["AllowedPublishers"]) == (
        "before",
        created["AllowedPublishers"],
    )


def all_config_ids(client: Any, page_size: int = 50) -> list[str]:
    seen: list[str] = []
    request: dict[str, Any] = {"MaxItems": page_size}
    while True:
        page = client.list_code_signing_configs(**request)
        assert len(page["CodeSigningConfigs"]) <= page_size
        seen += [c["CodeSigningConfigId"] for c in page["CodeSigningConfigs"]]
        if "NextMarker" not in page:
            return seen
        request["Marker"] = page["NextMarker"]


def test_list_code_signing_configs_pages_through_every_configuration(lambda_client):
    mine = {create_csc(lambda_client)["CodeSigningConfigId"] for _ in range(3)}

    seen = all_config_ids(lambda_client, page_size=1)

    assert mine <= set(seen)
    assert len(seen) == len(set(seen))


def test_a_function_is_given_a_configuration_and_loses_it(lambda_client, make_function):
    name = make_function(SOURCE)
    arn = create_csc(lambda_client)["CodeSigningConfigArn"]

    put = lambda_client.put_function_code_signing_config(
        CodeSigningConfigArn=arn, FunctionName=name
    )
    got = lambda_client.get_function_code_signing_config(FunctionName=name)
    listed = lambda_client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    deleted = lambda_client.delete_function_code_signing_config(FunctionName=name)

    expected = {"CodeSigningConfigArn": arn, "FunctionName": name}
    assert {k: put[k] for k in expected} == expected
    assert {k: got[k] for k in expected} == expected
    assert listed["FunctionArns"] == [f"arn:aws:lambda:us-east-1:000000000000:function:{name}"]
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "CodeSigningConfigArn" not in lambda_client.get_function_code_signing_config(
        FunctionName=name
    )


def test_a_function_without_configuration_answers_200_with_an_empty_document(
    lamina_server, make_function
):
    # Terraform's aws_lambda_function reads this on every refresh.
    name = make_function(SOURCE)

    response = signed_request(
        lamina_server.endpoint, "GET", f"/2020-06-30/functions/{name}/code-signing-config"
    )

    assert (response.status, response.json()) == (200, {})


def test_removing_a_configuration_a_function_does_not_have_is_fine(lambda_client, make_function):
    name = make_function(SOURCE)

    response = lambda_client.delete_function_code_signing_config(FunctionName=name)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_create_function_with_a_code_signing_config(lambda_client, make_function):
    arn = create_csc(lambda_client)["CodeSigningConfigArn"]

    name = make_function(SOURCE, CodeSigningConfigArn=arn)

    assert lambda_client.get_function_code_signing_config(FunctionName=name)[
        "CodeSigningConfigArn"
    ] == (arn)


def test_create_function_with_an_unknown_config_is_refused_and_creates_nothing(lambda_client):
    name = unique_name()

    with pytest.raises(ClientError) as raised:
        lambda_client.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
            Code={"ZipFile": handler_zip(SOURCE)}, CodeSigningConfigArn=UNKNOWN,
        )  # fmt: skip

    assert error(raised) == (
        "CodeSigningConfigNotFoundException",
        "The code signing configuration cannot be found. Check that the provided configuration "
        f"is not deleted: {UNKNOWN}.",
    )
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName=name)


def test_unknown_configurations_are_404_without_a_type(lamina_server):
    message = f"The Lambda code signing configuration {UNKNOWN} can not be found."
    base = f"/2020-04-22/code-signing-configs/{quoted(UNKNOWN)}"
    calls = [("GET", base, b""), ("PUT", base, b"{}"), ("DELETE", base, b"")]
    calls.append(("GET", f"{base}/functions", b""))

    for method, path, body in calls:
        response = signed_request(lamina_server.endpoint, method, path, body)

        assert response.status == 404, (method, path)
        assert response.headers["x-amzn-errortype"] == "ResourceNotFoundException"
        assert response.json() == {"Message": message}


def test_a_malformed_configuration_arn_is_a_validation_error(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.get_code_signing_config(CodeSigningConfigArn="arn:aws:lambda:nope")

    code, message = error(raised)
    assert code == "ValidationException"
    assert message.startswith(
        "1 validation error detected: Value 'arn:aws:lambda:nope' at 'codeSigningConfigArn' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
    )


def test_put_function_config_errors_check_the_configuration_first(lambda_client, make_function):
    name = make_function(SOURCE)
    arn = create_csc(lambda_client)["CodeSigningConfigArn"]
    missing_fn = f"arn:aws:lambda:us-east-1:000000000000:function:{unique_name()}"

    with pytest.raises(ClientError) as unknown_csc:
        lambda_client.put_function_code_signing_config(
            CodeSigningConfigArn=UNKNOWN, FunctionName=name
        )
    with pytest.raises(ClientError) as unknown_fn:
        lambda_client.put_function_code_signing_config(
            CodeSigningConfigArn=arn, FunctionName=missing_fn
        )
    with pytest.raises(ClientError) as both:
        lambda_client.put_function_code_signing_config(
            CodeSigningConfigArn=UNKNOWN, FunctionName=missing_fn
        )

    not_found = (
        "CodeSigningConfigNotFoundException",
        "The code signing configuration cannot be found. Check that the provided configuration "
        f"is not deleted: {UNKNOWN}.",
    )
    assert error(unknown_csc) == not_found
    assert error(both) == not_found
    assert error(unknown_fn) == ("ResourceNotFoundException", f"Function not found: {missing_fn}")


def test_function_config_calls_on_an_unknown_function_are_404(lambda_client):
    name = unique_name()
    expected = (
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}",
    )

    with pytest.raises(ClientError) as get:
        lambda_client.get_function_code_signing_config(FunctionName=name)
    with pytest.raises(ClientError) as delete:
        lambda_client.delete_function_code_signing_config(FunctionName=name)

    assert error(get) == expected
    assert error(delete) == expected


def test_a_version_or_alias_cannot_be_given_a_configuration(lambda_client, make_function):
    name = make_function(SOURCE)
    arn = create_csc(lambda_client)["CodeSigningConfigArn"]

    with pytest.raises(ClientError) as raised:
        lambda_client.put_function_code_signing_config(
            CodeSigningConfigArn=arn, FunctionName=f"{name}:1"
        )

    assert error(raised)[0] == "InvalidParameterValueException"


@pytest.mark.parametrize(
    ("settings", "member"),
    [
        (
            {"CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Block"}},
            "codeSigningPolicies",
        ),
        ({"AllowedPublishers": {"SigningProfileVersionArns": []}}, "allowedPublishers"),
        ({"AllowedPublishers": {"SigningProfileVersionArns": [PROFILE] * 21}}, "allowedPublishers"),
        ({"AllowedPublishers": {"SigningProfileVersionArns": ["not-an-arn"]}}, "allowedPublishers"),
        ({"AllowedPublishers": {}}, "allowedPublishers"),
        ({"Description": "x" * 257}, "description"),
    ],
)
def test_bad_configurations_are_validation_errors(raw_lambda_client, settings, member):
    request = {"AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]}, **settings}
    before = all_config_ids(raw_lambda_client)

    with pytest.raises(ClientError) as raised:
        raw_lambda_client.create_code_signing_config(**request)

    code, message = error(raised)
    assert code == "ValidationException"
    assert f"at '{member}" in message
    assert all_config_ids(raw_lambda_client) == before


def test_a_configuration_in_use_cannot_be_deleted(lambda_client, make_function: MakeFunction):
    arn = create_csc(lambda_client)["CodeSigningConfigArn"]
    name = make_function(SOURCE, CodeSigningConfigArn=arn)

    with pytest.raises(ClientError) as in_use:
        lambda_client.delete_code_signing_config(CodeSigningConfigArn=arn)
    lambda_client.delete_function_code_signing_config(FunctionName=name)
    deleted = lambda_client.delete_code_signing_config(CodeSigningConfigArn=arn)

    assert error(in_use)[0] == "ResourceConflictException"
    assert name in error(in_use)[1]
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_code_signing_config(CodeSigningConfigArn=arn)


def test_deleting_a_function_frees_its_configuration(lambda_client, make_function):
    arn = create_csc(lambda_client)["CodeSigningConfigArn"]
    name = make_function(SOURCE, CodeSigningConfigArn=arn)

    lambda_client.delete_function(FunctionName=name)

    assert (
        lambda_client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)[
            "FunctionArns"
        ]
        == []
    )
    lambda_client.delete_code_signing_config(CodeSigningConfigArn=arn)


def test_a_configuration_is_tagged_on_create_and_through_its_arn(lambda_client):
    arn = create_csc(lambda_client, Tags={"team": "a"})["CodeSigningConfigArn"]

    lambda_client.tag_resource(Resource=arn, Tags={"stage": "dev"})
    both = lambda_client.list_tags(Resource=arn)["Tags"]
    lambda_client.untag_resource(Resource=arn, TagKeys=["team"])

    assert both == {"team": "a", "stage": "dev"}
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"stage": "dev"}
    assert (
        "Tags"
        not in lambda_client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    )
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.list_tags(Resource=UNKNOWN)


def test_configurations_and_their_functions_survive_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    created = create_csc(client, Description="kept")
    client.create_function(
        FunctionName="signed", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(SOURCE)}, CodeSigningConfigArn=created["CodeSigningConfigArn"],
    )  # fmt: skip

    server.stop()
    server.start()

    arn = created["CodeSigningConfigArn"]
    assert client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == created
    assert client.get_function_code_signing_config(FunctionName="signed")[
        "CodeSigningConfigArn"
    ] == (arn)
