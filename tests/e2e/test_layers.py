"""Layers: the layer API in AWS's shapes, and layers merged under /opt in environments."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ROLE,
    MakeFunction,
    client_for,
    handler_zip,
    invoke,
    unique_name,
    wait_active,
    zip_files,
)

REPORT_OPT = """
import json, os, sys

def handler(event, context):
    found = {}
    for path in event.get("read", []):
        try:
            with open(path) as f:
                found[path] = f.read()
        except OSError as exc:
            found[path] = type(exc).__name__
    imported = {}
    for module in event.get("import", []):
        imported[module] = __import__(module).VALUE
    return {
        "files": found,
        "imported": imported,
        "opt": sorted(os.listdir("/opt")) if os.path.isdir("/opt") else None,
        "sys_path": sys.path[:3],
        "path": os.environ["PATH"],
    }
"""

Publish = Callable[..., dict[str, Any]]


@pytest.fixture
def publish(lambda_client: Any) -> Iterator[Publish]:
    """Publish a layer version from files; every version published is deleted after."""
    published: list[tuple[str, int]] = []

    def make(
        files: dict[str, str | bytes], name: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        response: dict[str, Any] = lambda_client.publish_layer_version(
            LayerName=name or unique_name("layer"), Content={"ZipFile": zip_files(files)}, **extra
        )
        layer = response["LayerArn"].rsplit(":", 1)[1]
        published.append((layer, response["Version"]))
        return response

    yield make
    for layer, version in published:
        lambda_client.delete_layer_version(LayerName=layer, VersionNumber=version)


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# -- The layer API ------------------------------------------------------------------------


def test_publish_answers_201_with_the_version_in_aws_shape(lambda_client, publish):
    package = zip_files({"python/lib_a.py": "VALUE = 1\n"})
    name = unique_name("layer")

    response = lambda_client.publish_layer_version(
        LayerName=name,
        Content={"ZipFile": package},
        Description="shared helpers",
        CompatibleRuntimes=["python3.12", "python3.13"],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )
    lambda_client.delete_layer_version(LayerName=name, VersionNumber=1)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    layer_arn = f"arn:aws:lambda:us-east-1:000000000000:layer:{name}"
    assert response["LayerArn"] == layer_arn
    assert response["LayerVersionArn"] == f"{layer_arn}:1"
    assert response["Version"] == 1
    assert response["Description"] == "shared helpers"
    assert response["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert response["CompatibleArchitectures"] == ["x86_64"]
    assert response["LicenseInfo"] == "MIT"
    assert response["Content"]["CodeSize"] == len(package)
    assert (
        response["Content"]["CodeSha256"]
        == base64.b64encode(hashlib.sha256(package).digest()).decode()
    )
    assert response["CreatedDate"].endswith("+0000")


def test_content_location_downloads_the_published_zip(lambda_client, publish):
    files: dict[str, str | bytes] = {"python/lib_b.py": "VALUE = 2\n"}
    response = publish(files)

    with urllib.request.urlopen(response["Content"]["Location"], timeout=10) as download:
        assert download.read() == zip_files(files)


def test_version_numbers_count_from_one_and_are_never_reused(lambda_client, publish):
    name = unique_name("layer")
    first = publish({"a.txt": "1"}, name)
    second = publish({"a.txt": "2"}, name)
    lambda_client.delete_layer_version(LayerName=name, VersionNumber=1)
    lambda_client.delete_layer_version(LayerName=name, VersionNumber=2)

    third = publish({"a.txt": "3"}, name)

    assert (first["Version"], second["Version"], third["Version"]) == (1, 2, 3)


def test_get_layer_version_by_number_by_layer_arn_and_by_version_arn(lambda_client, publish):
    published = publish({"a.txt": "x"}, Description="d")
    name = published["LayerArn"].rsplit(":", 1)[1]

    by_name = lambda_client.get_layer_version(LayerName=name, VersionNumber=1)
    by_layer_arn = lambda_client.get_layer_version(LayerName=published["LayerArn"], VersionNumber=1)
    by_arn = lambda_client.get_layer_version_by_arn(Arn=published["LayerVersionArn"])

    for got in (by_name, by_layer_arn, by_arn):
        assert got["LayerVersionArn"] == published["LayerVersionArn"]
        assert got["Content"]["CodeSha256"] == published["Content"]["CodeSha256"]
        assert got["Description"] == "d"


def test_a_missing_layer_version_is_not_found(lambda_client, publish):
    name = publish({"a.txt": "x"})["LayerArn"].rsplit(":", 1)[1]

    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_layer_version", {"LayerName": name, "VersionNumber": 2}),
        ("get_layer_version", {"LayerName": unique_name("none"), "VersionNumber": 1}),
        (
            "get_layer_version_by_arn",
            {"Arn": f"arn:aws:lambda:us-east-1:000000000000:layer:{name}:9"},
        ),
    ]
    for operation, params in calls:
        with pytest.raises(ClientError) as raised:
            getattr(lambda_client, operation)(**params)
        assert error(raised) == (
            404,
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )


@pytest.mark.parametrize("number", [0, -1])
def test_a_version_below_one_is_invalid(raw_lambda_client, number):
    with pytest.raises(ClientError) as raised:
        raw_lambda_client.get_layer_version(LayerName="any", VersionNumber=number)

    assert error(raised) == (
        400,
        "InvalidParameterValueException",
        "Layer Version Cannot be less than 1",
    )


def test_get_by_arn_refuses_an_arn_without_a_version(raw_lambda_client):
    with pytest.raises(ClientError) as raised:
        raw_lambda_client.get_layer_version_by_arn(
            Arn="arn:aws:lambda:us-east-1:000000000000:layer:name"
        )

    assert error(raised)[:2] == (400, "ValidationException")


def test_list_layer_versions_is_newest_first_and_filters(lambda_client, publish):
    name = unique_name("layer")
    publish({"a.txt": "1"}, name, CompatibleRuntimes=["python3.11"])
    publish(
        {"a.txt": "2"}, name, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["arm64"]
    )
    publish({"a.txt": "3"}, name, CompatibleRuntimes=["python3.12", "python3.11"])

    every = lambda_client.list_layer_versions(LayerName=name)["LayerVersions"]
    py311 = lambda_client.list_layer_versions(LayerName=name, CompatibleRuntime="python3.11")
    arm = lambda_client.list_layer_versions(LayerName=name, CompatibleArchitecture="arm64")

    assert [v["Version"] for v in every] == [3, 2, 1]
    assert "Content" not in every[0]
    assert [v["Version"] for v in py311["LayerVersions"]] == [3, 1]
    assert [v["Version"] for v in arm["LayerVersions"]] == [2]


def test_list_layer_versions_pages_with_markers(lambda_client, publish):
    name = unique_name("layer")
    for n in range(3):
        publish({"a.txt": str(n)}, name)

    first = lambda_client.list_layer_versions(LayerName=name, MaxItems=2)
    rest = lambda_client.list_layer_versions(LayerName=name, Marker=first["NextMarker"])

    assert [v["Version"] for v in first["LayerVersions"]] == [3, 2]
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    assert "NextMarker" not in rest


def test_an_unknown_layer_lists_no_versions(lambda_client):
    response = lambda_client.list_layer_versions(LayerName=unique_name("none"))

    assert response["LayerVersions"] == []


def test_list_layers_gives_each_layers_latest_matching_version(lambda_client, publish):
    name = unique_name("layer")
    publish({"a.txt": "1"}, name, CompatibleRuntimes=["python3.11"])
    publish({"a.txt": "2"}, name, CompatibleRuntimes=["python3.12"])

    def entry(**filters: Any) -> dict[str, Any] | None:
        layers = lambda_client.list_layers(**filters)["Layers"]
        return next((layer for layer in layers if layer["LayerName"] == name), None)

    latest = entry()
    py311 = entry(CompatibleRuntime="python3.11")

    assert latest is not None and py311 is not None
    assert latest["LayerArn"].endswith(f":layer:{name}")
    assert latest["LatestMatchingVersion"]["Version"] == 2
    assert py311["LatestMatchingVersion"]["Version"] == 1
    assert entry(CompatibleRuntime="python3.9") is None


def test_list_filters_refuse_unknown_runtimes(raw_lambda_client):
    with pytest.raises(ClientError) as raised:
        raw_lambda_client.list_layers(CompatibleRuntime="cobol")

    assert error(raised)[:2] == (400, "ValidationException")


def test_delete_answers_204_even_for_a_version_that_never_existed(lambda_client):
    response = lambda_client.delete_layer_version(LayerName=unique_name("none"), VersionNumber=7)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"CompatibleRuntimes": ["cobol"]}, "ValidationException"),
        ({"CompatibleArchitectures": ["sparc"]}, "ValidationException"),
        ({"CompatibleRuntimes": ["python3.12"] * 16}, "ValidationException"),
        ({"Description": "x" * 257}, "ValidationException"),
        ({"LicenseInfo": "x" * 513}, "ValidationException"),
    ],
)
def test_publish_refuses_bad_settings(raw_lambda_client, extra, code):
    name = unique_name("layer")
    with pytest.raises(ClientError) as raised:
        raw_lambda_client.publish_layer_version(
            LayerName=name, Content={"ZipFile": zip_files({"a": "b"})}, **extra
        )

    assert error(raised)[:2] == (400, code)
    assert raw_lambda_client.list_layer_versions(LayerName=name)["LayerVersions"] == []


def test_publish_refuses_a_package_that_is_not_a_zip(lambda_client):
    name = unique_name("layer")
    with pytest.raises(ClientError) as raised:
        lambda_client.publish_layer_version(LayerName=name, Content={"ZipFile": b"not a zip"})

    assert error(raised)[:2] == (400, "InvalidParameterValueException")
    assert lambda_client.list_layer_versions(LayerName=name)["LayerVersions"] == []


def test_publish_refuses_a_bad_layer_name(raw_lambda_client):
    with pytest.raises(ClientError) as raised:
        raw_lambda_client.publish_layer_version(
            LayerName="bad!name", Content={"ZipFile": zip_files({"a": "b"})}
        )

    assert error(raised)[:2] == (400, "ValidationException")


# -- Layers in functions ------------------------------------------------------------------


def test_layers_are_merged_in_order_under_opt_and_importable(
    lambda_client, make_function: MakeFunction, publish
):
    base = publish(
        {
            "python/from_base.py": "VALUE = 'base'\n",
            "python/lib/python3.12/site-packages/sitepkg.py": "VALUE = 'site'\n",
            "shared.txt": "from base",
            "only_base.txt": "base only",
        }
    )
    top = publish({"shared.txt": "from top", "bin/tool": "#!/bin/sh\n"})

    name = make_function(REPORT_OPT, Layers=[base["LayerVersionArn"], top["LayerVersionArn"]])
    _, result = invoke(
        lambda_client,
        name,
        {"read": ["/opt/shared.txt", "/opt/only_base.txt"], "import": ["from_base", "sitepkg"]},
    )

    assert result["files"] == {"/opt/shared.txt": "from top", "/opt/only_base.txt": "base only"}
    assert result["imported"] == {"from_base": "base", "sitepkg": "site"}
    assert result["opt"] == ["bin", "only_base.txt", "python", "shared.txt"]
    assert result["sys_path"] == [
        "/var/task",
        "/opt/python/lib/python3.12/site-packages",
        "/opt/python",
    ]
    assert result["path"].endswith(":/opt/bin")


def test_the_functions_code_comes_before_its_layers(lambda_client, make_function, publish):
    layer = publish({"python/helper.py": "VALUE = 'layer'\n"})
    code = zip_files({"handler.py": REPORT_OPT, "helper.py": "VALUE = 'function'\n"})

    name = make_function(zip_bytes=code, Layers=[layer["LayerVersionArn"]])
    _, result = invoke(lambda_client, name, {"import": ["helper"]})

    assert result["imported"] == {"helper": "function"}


def test_configuration_lists_layers_with_their_code_size(lambda_client, make_function, publish):
    layer = publish({"a.txt": "a"})

    name = make_function(REPORT_OPT, Layers=[layer["LayerVersionArn"]])
    configuration = lambda_client.get_function_configuration(FunctionName=name)

    assert configuration["Layers"] == [
        {"Arn": layer["LayerVersionArn"], "CodeSize": layer["Content"]["CodeSize"]}
    ]


def test_a_function_without_layers_has_an_empty_opt(lambda_client, make_function):
    name = make_function(REPORT_OPT)
    _, result = invoke(lambda_client, name, {})

    assert result["opt"] == []
    assert "Layers" not in lambda_client.get_function_configuration(FunctionName=name)


def test_update_configuration_changes_and_removes_layers(lambda_client, make_function, publish):
    one = publish({"which.txt": "one"})
    two = publish({"which.txt": "two"})
    name = make_function(REPORT_OPT, Layers=[one["LayerVersionArn"]])
    event = {"read": ["/opt/which.txt"]}
    assert invoke(lambda_client, name, event)[1]["files"]["/opt/which.txt"] == "one"

    lambda_client.update_function_configuration(FunctionName=name, Layers=[two["LayerVersionArn"]])
    wait_active(lambda_client, name)
    swapped = invoke(lambda_client, name, event)[1]["files"]["/opt/which.txt"]
    lambda_client.update_function_configuration(FunctionName=name, Layers=[])
    wait_active(lambda_client, name)
    removed = invoke(lambda_client, name, event)[1]["files"]["/opt/which.txt"]

    assert (swapped, removed) == ("two", "FileNotFoundError")
    assert "Layers" not in lambda_client.get_function_configuration(FunctionName=name)


def test_a_function_keeps_using_a_deleted_layer_version(lambda_client, make_function, publish):
    layer = lambda_client.publish_layer_version(
        LayerName=unique_name("layer"), Content={"ZipFile": zip_files({"kept.txt": "still here"})}
    )
    name = make_function(REPORT_OPT, Layers=[layer["LayerVersionArn"]])
    lambda_client.delete_layer_version(
        LayerName=layer["LayerArn"].rsplit(":", 1)[1], VersionNumber=layer["Version"]
    )

    # A configuration change gives new environments, built after the deletion.
    lambda_client.update_function_configuration(FunctionName=name, Description="rebuilt")
    wait_active(lambda_client, name)
    _, result = invoke(lambda_client, name, {"read": ["/opt/kept.txt"]})

    assert result["files"] == {"/opt/kept.txt": "still here"}
    assert (
        lambda_client.get_function_configuration(FunctionName=name)["Layers"][0]["Arn"]
        == (layer["LayerVersionArn"])
    )


def test_a_published_version_keeps_its_layers(lambda_client, make_function, publish):
    one = publish({"which.txt": "one"})
    two = publish({"which.txt": "two"})
    name = make_function(REPORT_OPT, Layers=[one["LayerVersionArn"]])
    version = lambda_client.publish_version(FunctionName=name)["Version"]

    lambda_client.update_function_configuration(FunctionName=name, Layers=[two["LayerVersionArn"]])
    wait_active(lambda_client, name)
    event = {"read": ["/opt/which.txt"]}

    assert invoke(lambda_client, name, event, Qualifier=version)[1]["files"] == {
        "/opt/which.txt": "one"
    }
    assert invoke(lambda_client, name, event)[1]["files"] == {"/opt/which.txt": "two"}


def _create_with_layers(client: Any, layers: list[str]) -> None:
    client.create_function(
        FunctionName=unique_name(),
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": handler_zip(REPORT_OPT)},
        Layers=layers,
    )


def test_more_than_five_layers_are_refused(lambda_client, publish):
    arns = [publish({"a.txt": str(n)})["LayerVersionArn"] for n in range(6)]

    with pytest.raises(ClientError) as raised:
        _create_with_layers(lambda_client, arns)

    assert error(raised) == (
        400,
        "InvalidParameterValueException",
        "Cannot reference more than 5 layers.",
    )


def test_a_missing_layer_version_is_refused(lambda_client, publish):
    arn = publish({"a.txt": "a"})["LayerVersionArn"][:-1] + "9"

    with pytest.raises(ClientError) as raised:
        _create_with_layers(lambda_client, [arn])

    assert error(raised) == (
        400,
        "InvalidParameterValueException",
        f"Layer version {arn} does not exist.",
    )


def test_two_versions_of_one_layer_are_refused(lambda_client, publish):
    name = unique_name("layer")
    first = publish({"a.txt": "1"}, name)["LayerVersionArn"]
    second = publish({"a.txt": "2"}, name)["LayerVersionArn"]

    with pytest.raises(ClientError) as raised:
        _create_with_layers(lambda_client, [first, second])

    status, code, message = error(raised)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith(
        "Two different versions of the same layer are not allowed to be referenced in the same "
        "function."
    )


def test_a_layer_arn_without_a_version_is_a_validation_error(raw_lambda_client, publish):
    arn = publish({"a.txt": "a"})["LayerArn"]

    with pytest.raises(ClientError) as raised:
        _create_with_layers(raw_lambda_client, [arn])

    assert error(raised)[:2] == (400, "ValidationException")


def test_a_layer_of_another_region_is_refused(lambda_client):
    arn = "arn:aws:lambda:eu-west-1:000000000000:layer:elsewhere:1"

    with pytest.raises(ClientError) as raised:
        _create_with_layers(lambda_client, [arn])

    assert error(raised)[:2] == (400, "InvalidParameterValueException")


def test_a_refused_layer_update_changes_nothing(lambda_client, make_function, publish):
    layer = publish({"a.txt": "a"})
    name = make_function(REPORT_OPT, Layers=[layer["LayerVersionArn"]])
    before = lambda_client.get_function_configuration(FunctionName=name)

    with pytest.raises(ClientError):
        lambda_client.update_function_configuration(
            FunctionName=name, Layers=[layer["LayerVersionArn"][:-1] + "99"]
        )

    after = lambda_client.get_function_configuration(FunctionName=name)
    assert (after["Layers"], after["RevisionId"]) == (before["Layers"], before["RevisionId"])


def test_code_and_layers_together_must_fit_the_unzipped_limit(lambda_client, publish):
    # Zeros compress to almost nothing, so these packages are small but unzip to 140 MB each.
    big = b"\0" * 140_000_000
    first = publish({"big1.bin": big})["LayerVersionArn"]
    second = publish({"big2.bin": big})["LayerVersionArn"]

    with pytest.raises(ClientError) as raised:
        _create_with_layers(lambda_client, [first, second])

    status, code, message = error(raised)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith(
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes."
    )


# -- Layer version permissions ------------------------------------------------------------


def test_layer_permissions_add_get_and_remove(lambda_client, publish):
    layer = publish({"a.txt": "a"})
    name, version = layer["LayerArn"].rsplit(":", 1)[1], layer["Version"]

    everyone = lambda_client.add_layer_version_permission(
        LayerName=name, VersionNumber=version, StatementId="all",
        Action="lambda:GetLayerVersion", Principal="*",
    )  # fmt: skip
    account = lambda_client.add_layer_version_permission(
        LayerName=name, VersionNumber=version, StatementId="acct",
        Action="lambda:GetLayerVersion", Principal="111122223333",
    )  # fmt: skip
    policy = lambda_client.get_layer_version_policy(LayerName=name, VersionNumber=version)
    lambda_client.remove_layer_version_permission(
        LayerName=name, VersionNumber=version, StatementId="all"
    )
    remaining = json.loads(
        lambda_client.get_layer_version_policy(LayerName=name, VersionNumber=version)["Policy"]
    )

    assert everyone["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(everyone["Statement"]) == {
        "Sid": "all",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": layer["LayerVersionArn"],
    }
    assert json.loads(account["Statement"])["Principal"] == {
        "AWS": "arn:aws:iam::111122223333:root"
    }
    assert policy["RevisionId"] == account["RevisionId"] != everyone["RevisionId"]
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["all", "acct"]
    assert [s["Sid"] for s in remaining["Statement"]] == ["acct"]


def test_layer_permission_errors(lambda_client, raw_lambda_client, publish):
    layer = publish({"a.txt": "a"})
    name, version = layer["LayerArn"].rsplit(":", 1)[1], layer["Version"]
    add = {"LayerName": name, "VersionNumber": version, "Action": "lambda:GetLayerVersion"}

    with pytest.raises(ClientError) as no_policy:
        lambda_client.get_layer_version_policy(LayerName=name, VersionNumber=version)
    first = lambda_client.add_layer_version_permission(StatementId="s", Principal="*", **add)
    with pytest.raises(ClientError) as duplicate:
        lambda_client.add_layer_version_permission(StatementId="s", Principal="*", **add)
    with pytest.raises(ClientError) as stale:
        lambda_client.add_layer_version_permission(
            StatementId="t", Principal="*", RevisionId="stale", **add
        )
    with pytest.raises(ClientError) as wrong_action:
        raw_lambda_client.add_layer_version_permission(
            **{**add, "Action": "lambda:InvokeFunction"}, StatementId="u", Principal="*"
        )
    with pytest.raises(ClientError) as missing_statement:
        lambda_client.remove_layer_version_permission(
            LayerName=name, VersionNumber=version, StatementId="nope"
        )
    with pytest.raises(ClientError) as missing_version:
        lambda_client.add_layer_version_permission(
            **{**add, "VersionNumber": version + 5}, StatementId="v", Principal="*"
        )

    assert error(no_policy) == (
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )
    assert first["RevisionId"]
    assert error(duplicate)[:2] == (409, "ResourceConflictException")
    assert error(stale)[:2] == (412, "PreconditionFailedException")
    assert error(wrong_action)[:2] == (400, "ValidationException")
    assert error(missing_statement) == (
        404,
        "ResourceNotFoundException",
        "Statement nope is not found in resource policy.",
    )
    assert error(missing_version) == (
        404,
        "ResourceNotFoundException",
        f"Layer version {layer['LayerArn']}:{version + 5} does not exist.",
    )


# -- Persistence --------------------------------------------------------------------------


def test_layers_and_functions_using_them_survive_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    name = unique_name("layer")
    client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_files({"a.txt": "1"})})
    layer = client.publish_layer_version(
        LayerName=name, Content={"ZipFile": zip_files({"python/persisted.py": "VALUE = 'p'\n"})}
    )
    function = unique_name()
    client.create_function(
        FunctionName=function, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(REPORT_OPT)}, Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    wait_active(client, function)
    client.delete_layer_version(LayerName=name, VersionNumber=1)

    server.stop()
    server.start()

    versions = client.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2]
    assert invoke(client, function, {"import": ["persisted"]})[1]["imported"] == {"persisted": "p"}
    again = client.publish_layer_version(
        LayerName=name, Content={"ZipFile": zip_files({"a.txt": "3"})}
    )
    assert again["Version"] == 3


def test_layers_are_importable_with_the_process_sandbox(start_server):
    """Without a mount namespace the merged layers stay where they are on the host; Python
    still finds them first after the function's code."""
    server = start_server("--sandbox", "process")
    client = client_for(server.endpoint)
    layer = client.publish_layer_version(
        LayerName=unique_name("layer"),
        Content={"ZipFile": zip_files({"python/plain.py": "VALUE = 'plain'\n"})},
    )
    function = unique_name()
    client.create_function(
        FunctionName=function, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(REPORT_OPT)}, Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    wait_active(client, function)

    result = invoke(client, function, {"import": ["plain"]})[1]

    assert result["imported"] == {"plain": "plain"}
    assert result["sys_path"][1].endswith("/python/lib/python3.12/site-packages")


def test_a_deleted_layers_package_goes_with_the_last_function_using_it(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    layer = client.publish_layer_version(
        LayerName=unique_name("layer"), Content={"ZipFile": zip_files({"gone.txt": "soon"})}
    )
    sha = base64.b64decode(layer["Content"]["CodeSha256"]).hex()
    package = server.data_dir / "code" / "zips" / f"{sha}.zip"
    function = unique_name()
    client.create_function(
        FunctionName=function, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(REPORT_OPT)}, Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    wait_active(client, function)
    client.delete_layer_version(
        LayerName=layer["LayerArn"].rsplit(":", 1)[1], VersionNumber=layer["Version"]
    )
    kept = package.exists()

    client.delete_function(FunctionName=function)

    assert kept
    assert not package.exists()
