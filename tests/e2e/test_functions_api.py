"""The control plane for functions, end to end: Create/Get/List/Update/Delete and their errors.

Every test drives the shared ``lamina serve`` through boto3, or through plain HTTP where status
codes, headers or raw bodies matter, and checks what AWS answers (see AWS-BEHAVIOUR.md, §1–2).
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import stat
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from botocore.exceptions import ClientError, WaiterError

from lamina.api.code_urls import LINK_TTL_S, CodeUrlSigner
from tests.conftest import (
    ROLE,
    RunningServer,
    handler_zip,
    signed_headers,
    unique_name,
    wait_active,
    zip_files,
)

REGION = "us-east-1"
ACCOUNT = "000000000000"
MAX_ZIPPED = 52_428_800
MAX_UNZIPPED = 262_144_000
AWS_ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000")
PRECONDITION_MESSAGE = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)
UNZIP_MESSAGE = "Could not unzip uploaded file. Please check your file, then try to upload again."
ENV_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided "
)

VERSION_SOURCE = """
def handler(event, context):
    return {"version": %d}
"""
REPORTER_SOURCE = """
import os
import sys

def handler(event, context):
    return {
        "memory": context.memory_limit_in_mb,
        "env": {k: v for k, v in os.environ.items() if k.startswith("MY_")},
        "python": list(sys.version_info[:2]),
        "entry": "handler",
    }

def other(event, context):
    return {"entry": "other"}
"""


def fn_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def not_found(name: str, qualifier: str | None = None) -> str:
    return f"Function not found: {fn_arn(name, qualifier)}"


def version_zip(number: int) -> bytes:
    return handler_zip(VERSION_SOURCE % number)


def create(client: Any, name: str, zip_bytes: bytes | None = None, **settings: Any) -> Any:
    """CreateFunction with working defaults; ``settings`` override or add members."""
    request: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "handler.handler",
        "Code": {"ZipFile": version_zip(1) if zip_bytes is None else zip_bytes},
    }
    request.update(settings)
    return client.create_function(**request)


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


def assert_not_stored(client: Any, name: str) -> None:
    status, code, _ = error_of(client.get_function, FunctionName=name)
    assert (status, code) == (404, "ResourceNotFoundException")


def invoke_json(client: Any, name: str, payload: Any = None) -> Any:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode())
    body = response["Payload"].read()
    assert "FunctionError" not in response, body
    return json.loads(body)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def list_pages(client: Any, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of ListFunctions, following NextMarker."""
    pages: list[list[dict[str, Any]]] = []
    marker: str | None = None
    while True:
        response = client.list_functions(**params, **({"Marker": marker} if marker else {}))
        pages.append(response["Functions"])
        marker = response.get("NextMarker")
        if not marker:
            return pages


def listed(client: Any, name: str, **params: Any) -> list[dict[str, Any]]:
    """The ListFunctions entries of one function."""
    return [f for page in list_pages(client, **params) for f in page if f["FunctionName"] == name]


def patched_declared_size(data: bytes, size: int) -> bytes:
    """A one-entry zip whose headers claim ``size`` uncompressed bytes."""
    patched = bytearray(data)
    local = patched.find(b"PK\x03\x04")
    central = patched.find(b"PK\x01\x02")
    patched[local + 22 : local + 26] = size.to_bytes(4, "little")
    patched[central + 24 : central + 28] = size.to_bytes(4, "little")
    return bytes(patched)


def zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", VERSION_SOURCE % 1)
        link = zipfile.ZipInfo("link.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def oversized_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("blob.bin", os.urandom(MAX_ZIPPED))
    data = buffer.getvalue()
    assert len(data) > MAX_ZIPPED
    return data


def unique_package() -> bytes:
    return handler_zip(f"# {unique_name('package')}\n" + VERSION_SOURCE % 1)


def stored_package(server: RunningServer, data: bytes) -> Path:
    """Where the server would keep this package (``<data>/code/zips/<sha256 hex>.zip``)."""
    sha = hashlib.sha256(data).hexdigest()
    return server.data_dir / "code" / "zips" / f"{sha}.zip"


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_call(
    server: RunningServer, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> HttpAnswer:
    """One plain HTTP request to the server; headers come back with lower-case names."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        headers = signed_headers(server.endpoint, method, path, data or b"", headers)
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return HttpAnswer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


def create_body(name: str, **settings: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "handler.handler",
        "Code": {"ZipFile": base64.b64encode(version_zip(1)).decode()},
    }
    body.update(settings)
    return body


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@pytest.fixture
def fresh_name(lambda_client: Any) -> Iterator[str]:
    """A unique function name; the function is deleted afterwards if a test created it."""
    name = unique_name("api")
    yield name
    with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.delete_function(FunctionName=name)


# -- CreateFunction ------------------------------------------------------------------------


def test_create_function_answers_201_pending_with_reason_and_no_last_update_status(
    lambda_client, fresh_name
):
    response = create(lambda_client, fresh_name)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (response["State"], response["StateReason"], response["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert "LastUpdateStatus" not in response


def test_created_function_turns_active_and_successful_with_a_new_revision_id(
    lambda_client, fresh_name
):
    created = create(lambda_client, fresh_name)

    config = wait_active(lambda_client, fresh_name)

    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in config and "StateReasonCode" not in config
    assert config["RevisionId"] != created["RevisionId"]


def test_create_function_fills_in_aws_defaults(lambda_client, fresh_name):
    response = create(lambda_client, fresh_name)

    expected = {
        "Timeout": 3,
        "MemorySize": 128,
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "Description": "",
        "PackageType": "Zip",
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fresh_name}"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "Version": "$LATEST",
    }
    assert {key: response.get(key) for key in expected} == expected


def test_create_function_gives_a_uuid_revision_id_and_a_runtime_version_arn(
    lambda_client, fresh_name
):
    response = create(lambda_client, fresh_name)

    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", response["RevisionId"]
    )
    assert re.fullmatch(
        r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]+",
        response["RuntimeVersionConfig"]["RuntimeVersionArn"],
    )


def test_code_sha256_is_base64_of_the_zip_digest_and_code_size_its_length(
    lambda_client, fresh_name
):
    package = version_zip(42)

    response = create(lambda_client, fresh_name, package)

    assert response["CodeSha256"] == sha256_b64(package)
    assert response["CodeSize"] == len(package)


def test_last_modified_has_aws_format_and_is_now(lambda_client, fresh_name):
    response = create(lambda_client, fresh_name)

    stamp = response["LastModified"]
    assert AWS_ISO_MS.fullmatch(stamp), stamp
    parsed = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(parsed - time.time()) < 3600


def test_function_arn_names_region_account_and_function(lambda_client, fresh_name):
    response = create(lambda_client, fresh_name)

    assert response["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fresh_name}"
    assert response["FunctionName"] == fresh_name


def test_settings_given_at_create_are_returned(lambda_client, fresh_name):
    settings: dict[str, Any] = {
        "Description": "does things",
        "Timeout": 30,
        "MemorySize": 512,
        "Environment": {"Variables": {"MY_A": "1"}},
        "EphemeralStorage": {"Size": 1024},
        "Architectures": ["arm64"],
        "TracingConfig": {"Mode": "Active"},
    }

    create(lambda_client, fresh_name, **settings)

    config = wait_active(lambda_client, fresh_name)
    assert {key: config[key] for key in settings} == settings


def test_boto3_waiters_see_the_function_exist_become_active_and_finish_updating(
    lambda_client, fresh_name
):
    quick = {"Delay": 1, "MaxAttempts": 20}
    create(lambda_client, fresh_name)

    lambda_client.get_waiter("function_exists").wait(FunctionName=fresh_name, WaiterConfig=quick)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=fresh_name, WaiterConfig=quick)
    lambda_client.update_function_configuration(FunctionName=fresh_name, Description="new")
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=fresh_name, WaiterConfig=quick
    )

    config = lambda_client.get_function_configuration(FunctionName=fresh_name)
    assert (config["LastUpdateStatus"], config["Description"]) == ("Successful", "new")


def test_function_exists_waiter_gives_up_on_a_missing_function(lambda_client):
    waiter = lambda_client.get_waiter("function_exists")

    with pytest.raises(WaiterError):
        waiter.wait(
            FunctionName=unique_name("missing"), WaiterConfig={"Delay": 1, "MaxAttempts": 1}
        )


def test_creating_a_function_that_exists_is_409_and_leaves_it_unchanged(
    lambda_client, make_function
):
    name = make_function(VERSION_SOURCE % 1, Description="first")

    status, code, message = error_of(create, client=lambda_client, name=name, Description="second")

    assert (status, code) == (409, "ResourceConflictException")
    assert name in message
    assert lambda_client.get_function_configuration(FunctionName=name)["Description"] == "first"


# -- GetFunction / GetFunctionConfiguration ------------------------------------------------


def test_get_function_returns_configuration_and_an_s3_code_location(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    response = lambda_client.get_function(FunctionName=name)

    assert response["Configuration"]["FunctionArn"] == fn_arn(name)
    assert response["Code"]["RepositoryType"] == "S3"
    assert response["Code"]["Location"].startswith("http://127.0.0.1:")


def test_code_location_downloads_exactly_the_uploaded_zip(lambda_client, make_function):
    package = zip_files({"handler.py": VERSION_SOURCE % 7, "data/extra.txt": os.urandom(64)})
    name = make_function(zip_bytes=package)

    location = lambda_client.get_function(FunctionName=name)["Code"]["Location"]

    assert fetch(location) == (200, package)


def test_code_location_with_a_tampered_signature_is_refused(lambda_client, make_function):
    package = version_zip(5)
    name = make_function(zip_bytes=package)
    parts = urlsplit(lambda_client.get_function(FunctionName=name)["Code"]["Location"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    signature = query["Signature"]
    query["Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]

    status, body = fetch(parts._replace(query=urlencode(query)).geturl())

    assert status == 403
    assert package not in body


def test_code_location_past_its_expiry_is_refused(lambda_client, lamina_server, make_function):
    # Given a link signed with the server's own key, but ten minutes and more in the past
    name = make_function(VERSION_SOURCE % 1)
    config = lambda_client.get_function_configuration(FunctionName=name)
    sha_hex = base64.b64decode(config["CodeSha256"]).hex()
    signer = CodeUrlSigner((lamina_server.data_dir / "secret.key").read_bytes())
    expired = signer.url(f"127.0.0.1:{lamina_server.port}", sha_hex, time.time() - LINK_TTL_S - 60)
    fresh = signer.url(f"127.0.0.1:{lamina_server.port}", sha_hex)

    assert fetch(fresh)[0] == 200
    assert fetch(expired)[0] == 403


def test_get_function_with_latest_qualifier_shows_the_latest_arn(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    qualified = lambda_client.get_function(FunctionName=name, Qualifier="$LATEST")
    plain = lambda_client.get_function(FunctionName=name)

    assert qualified["Configuration"]["FunctionArn"] == fn_arn(name, "$LATEST")
    assert plain["Configuration"]["FunctionArn"] == fn_arn(name)


def test_get_function_by_full_arn_finds_the_function(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    response = lambda_client.get_function(FunctionName=fn_arn(name))

    assert response["Configuration"]["FunctionName"] == name


def test_get_function_configuration_equals_get_functions_configuration(
    lambda_client, make_function
):
    name = make_function(VERSION_SOURCE % 1, Environment={"Variables": {"MY_X": "y"}})

    config = lambda_client.get_function_configuration(FunctionName=name)
    full = lambda_client.get_function(FunctionName=name)

    config.pop("ResponseMetadata")
    assert config == full["Configuration"]


def test_tags_given_at_create_appear_in_get_function(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1, Tags={"team": "core", "env": "test"})

    response = lambda_client.get_function(FunctionName=name)

    assert response["Tags"] == {"team": "core", "env": "test"}


def test_get_function_of_an_untagged_function_has_no_tags(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    assert "Tags" not in lambda_client.get_function(FunctionName=name)


def test_get_function_of_an_unknown_version_is_404_naming_it(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    status, code, message = error_of(lambda_client.get_function, FunctionName=name, Qualifier="7")

    assert (status, code, message) == (404, "ResourceNotFoundException", not_found(name, "7"))


def test_get_function_with_a_malformed_qualifier_is_a_validation_error(
    lambda_client, make_function
):
    name = make_function(VERSION_SOURCE % 1)

    _, code, _ = error_of(lambda_client.get_function, FunctionName=name, Qualifier="prod!")

    assert code == "ValidationException"


def test_function_arn_from_another_region_is_not_reachable(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    arn = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}"

    status, code, message = error_of(lambda_client.get_function, FunctionName=arn)

    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"


def test_function_arn_from_another_account_is_access_denied(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{name}"

    status, code, _ = error_of(lambda_client.get_function, FunctionName=arn)

    assert (status, code) == (403, "AccessDeniedException")


def test_qualifier_in_the_name_and_a_different_qualifier_is_invalid(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    status, code, message = error_of(
        lambda_client.get_function, FunctionName=f"{name}:$LATEST", Qualifier="1"
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )


def test_get_function_with_a_65_character_name_is_404_not_a_validation_error(lambda_client):
    name = "f" * 65

    status, code, _ = error_of(lambda_client.get_function, FunctionName=name)

    assert (status, code) == (404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    ("operation", "length"),
    [("get_function", 171), ("delete_function", 141), ("create", 141)],
)
def test_function_name_over_the_operations_length_limit_is_a_validation_error(
    raw_lambda_client, operation, length
):
    # Given a full ARN of the given length (its name part alone is too long for any function)
    arn = fn_arn("f" * (length - len(fn_arn(""))))
    calls = {
        "get_function": raw_lambda_client.get_function,
        "delete_function": raw_lambda_client.delete_function,
        "create": lambda FunctionName: create(raw_lambda_client, FunctionName),
    }

    status, code, _ = error_of(calls[operation], FunctionName=arn)

    assert (len(arn), status, code) == (length, 400, "ValidationException")


def test_create_function_accepts_a_full_arn_as_the_name(lambda_client, fresh_name):
    response = create(lambda_client, fn_arn(fresh_name))

    assert (response["FunctionName"], response["FunctionArn"]) == (fresh_name, fn_arn(fresh_name))


# -- ListFunctions -------------------------------------------------------------------------


def test_list_functions_entries_lack_state_and_runtime_version(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    [entry] = listed(lambda_client, name)

    assert {"State", "LastUpdateStatus", "RuntimeVersionConfig"}.isdisjoint(entry)
    assert (entry["FunctionArn"], entry["Version"]) == (fn_arn(name), "$LATEST")


def test_list_functions_pages_walk_every_function_exactly_once(lambda_client, make_function):
    # Given seven functions with a common prefix, among other tests' functions
    prefix = unique_name("page")
    names = [make_function(VERSION_SOURCE % i, FunctionName=f"{prefix}-{i}") for i in range(7)]

    pages = list_pages(lambda_client, MaxItems=3)

    seen = [f["FunctionName"] for page in pages for f in page if f["FunctionName"] in names]
    assert sorted(seen) == sorted(names)
    assert all(len(page) <= 3 for page in pages)


def test_list_functions_paginator_walks_every_function(lambda_client, make_function):
    prefix = unique_name("pager")
    names = [make_function(VERSION_SOURCE % i, FunctionName=f"{prefix}-{i}") for i in range(5)]
    paginator = lambda_client.get_paginator("list_functions")

    pages = paginator.paginate(PaginationConfig={"PageSize": 2})

    seen = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert sorted(n for n in seen if n.startswith(prefix)) == sorted(names)


def test_list_functions_with_version_all_gives_latest_arns(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    [entry] = listed(lambda_client, name, FunctionVersion="ALL")

    assert (entry["FunctionArn"], entry["Version"]) == (fn_arn(name, "$LATEST"), "$LATEST")


def test_list_functions_with_an_invalid_function_version_is_a_validation_error(
    raw_lambda_client,
):
    status, code, _ = error_of(raw_lambda_client.list_functions, FunctionVersion="LATEST")

    assert (status, code) == (400, "ValidationException")


def test_list_functions_with_max_items_below_1_is_a_validation_error(raw_lambda_client):
    status, code, message = error_of(raw_lambda_client.list_functions, MaxItems=0)

    assert (status, code) == (400, "ValidationException")
    assert "Member must have value greater than or equal to 1" in message


def test_list_functions_does_not_list_deleted_functions(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    lambda_client.delete_function(FunctionName=name)

    assert listed(lambda_client, name) == []


# -- UpdateFunctionConfiguration -----------------------------------------------------------


def test_update_configuration_answers_in_progress_then_successful(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    before = lambda_client.get_function_configuration(FunctionName=name)

    response = lambda_client.update_function_configuration(FunctionName=name, Description="x")

    assert (response["State"], response["LastUpdateStatus"]) == ("Active", "InProgress")
    assert response["LastUpdateStatusReason"] == "The function is being created."
    assert response["LastUpdateStatusReasonCode"] == "Creating"
    after = wait_active(lambda_client, name)
    assert after["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in after
    assert len({before["RevisionId"], response["RevisionId"], after["RevisionId"]}) == 3


def test_update_configuration_changes_every_setting_given(lambda_client, make_function):
    name = make_function(REPORTER_SOURCE)
    changes = {
        "Handler": "handler.other",
        "Runtime": "python3.13",
        "MemorySize": 256,
        "Timeout": 10,
        "Description": "changed",
        "EphemeralStorage": {"Size": 2048},
    }

    lambda_client.update_function_configuration(FunctionName=name, **changes)

    config = wait_active(lambda_client, name)
    assert {key: config[key] for key in changes} == changes


def test_update_that_changes_nothing_still_gives_a_new_revision_id(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1, Description="same")
    before = lambda_client.get_function_configuration(FunctionName=name)

    lambda_client.update_function_configuration(FunctionName=name, Description="same")

    assert wait_active(lambda_client, name)["RevisionId"] != before["RevisionId"]


def test_updated_environment_replaces_the_whole_map(lambda_client, make_function):
    name = make_function(REPORTER_SOURCE, Environment={"Variables": {"MY_A": "1", "MY_B": "2"}})
    assert invoke_json(lambda_client, name)["env"] == {"MY_A": "1", "MY_B": "2"}

    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MY_C": "3"}}
    )

    assert wait_active(lambda_client, name)["Environment"] == {"Variables": {"MY_C": "3"}}
    assert invoke_json(lambda_client, name)["env"] == {"MY_C": "3"}


def test_updated_memory_size_is_seen_by_the_next_invocation(lambda_client, make_function):
    name = make_function(REPORTER_SOURCE)
    assert int(invoke_json(lambda_client, name)["memory"]) == 128

    lambda_client.update_function_configuration(FunctionName=name, MemorySize=256)
    wait_active(lambda_client, name)

    assert int(invoke_json(lambda_client, name)["memory"]) == 256


def test_updated_handler_is_used_by_the_next_invocation(lambda_client, make_function):
    name = make_function(REPORTER_SOURCE)
    assert invoke_json(lambda_client, name)["entry"] == "handler"

    lambda_client.update_function_configuration(FunctionName=name, Handler="handler.other")
    wait_active(lambda_client, name)

    assert invoke_json(lambda_client, name) == {"entry": "other"}


def test_updated_runtime_is_used_by_the_next_invocation(lambda_client, make_function):
    name = make_function(REPORTER_SOURCE, runtime="python3.12")
    assert invoke_json(lambda_client, name)["python"] == [3, 12]

    lambda_client.update_function_configuration(FunctionName=name, Runtime="python3.13")
    wait_active(lambda_client, name)

    assert invoke_json(lambda_client, name)["python"] == [3, 13]


def test_update_configuration_with_a_stale_revision_id_is_412(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    stale = lambda_client.get_function_configuration(FunctionName=name)["RevisionId"]
    lambda_client.update_function_configuration(FunctionName=name, Description="moved on")
    wait_active(lambda_client, name)

    status, code, message = error_of(
        lambda_client.update_function_configuration,
        FunctionName=name,
        Description="lost update",
        RevisionId=stale,
    )

    assert (status, code, message) == (412, "PreconditionFailedException", PRECONDITION_MESSAGE)


def test_update_configuration_with_the_current_revision_id_succeeds(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    current = lambda_client.get_function_configuration(FunctionName=name)["RevisionId"]

    lambda_client.update_function_configuration(
        FunctionName=name, Description="ok", RevisionId=current
    )

    assert wait_active(lambda_client, name)["Description"] == "ok"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Runtime": "python2.99"}, "InvalidParameterValueException"),
        ({"MemorySize": 10241}, "InvalidParameterValueException"),
        ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException"),
        ({"Handler": "bad handler"}, "ValidationException"),
        ({"Role": "r1"}, "ValidationException"),
    ],
    ids=["runtime", "memory", "reserved-env", "handler", "role"],
)
def test_invalid_configuration_update_is_refused_and_changes_nothing(
    raw_lambda_client, make_function, change, code
):
    name = make_function(VERSION_SOURCE % 1)
    before = raw_lambda_client.get_function_configuration(FunctionName=name)

    status, actual_code, _ = error_of(
        raw_lambda_client.update_function_configuration, FunctionName=name, **change
    )

    assert (status, actual_code) == (400, code)
    after = raw_lambda_client.get_function_configuration(FunctionName=name)
    assert after["RevisionId"] == before["RevisionId"]


def test_update_configuration_of_a_missing_function_is_404(lambda_client):
    name = unique_name("missing")

    status, code, message = error_of(
        lambda_client.update_function_configuration, FunctionName=name, Description="x"
    )

    assert (status, code, message) == (404, "ResourceNotFoundException", not_found(name))


# -- UpdateFunctionCode --------------------------------------------------------------------


def test_update_code_answers_the_new_code_sha256_in_progress(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    package = version_zip(2)

    response = lambda_client.update_function_code(FunctionName=name, ZipFile=package)

    assert (response["CodeSha256"], response["CodeSize"]) == (sha256_b64(package), len(package))
    assert response["LastUpdateStatus"] == "InProgress"
    assert wait_active(lambda_client, name)["CodeSha256"] == sha256_b64(package)


def test_new_code_runs_on_the_next_invocation_not_in_a_warm_old_environment(
    lambda_client, make_function
):
    # Given a function with a warm environment running version 1
    name = make_function(VERSION_SOURCE % 1)
    assert invoke_json(lambda_client, name) == {"version": 1}

    lambda_client.update_function_code(FunctionName=name, ZipFile=version_zip(2))
    wait_active(lambda_client, name)

    assert invoke_json(lambda_client, name) == {"version": 2}


def test_code_location_serves_the_new_code_after_an_update(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    package = version_zip(3)

    lambda_client.update_function_code(FunctionName=name, ZipFile=package)
    wait_active(lambda_client, name)

    assert fetch(lambda_client.get_function(FunctionName=name)["Code"]["Location"])[1] == package


def test_update_code_dry_run_changes_nothing(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    before = lambda_client.get_function_configuration(FunctionName=name)

    lambda_client.update_function_code(FunctionName=name, ZipFile=version_zip(2), DryRun=True)

    after = lambda_client.get_function_configuration(FunctionName=name)
    assert (after["CodeSha256"], after["RevisionId"]) == (
        before["CodeSha256"],
        before["RevisionId"],
    )
    assert invoke_json(lambda_client, name) == {"version": 1}


def test_update_code_dry_run_stores_no_package(lambda_client, lamina_server, make_function):
    name = make_function(VERSION_SOURCE % 1)
    package = unique_package()

    lambda_client.update_function_code(FunctionName=name, ZipFile=package, DryRun=True)

    assert not stored_package(lamina_server, package).exists()


def test_update_code_with_a_stale_revision_id_is_412(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    stale = lambda_client.get_function_configuration(FunctionName=name)["RevisionId"]
    lambda_client.update_function_configuration(FunctionName=name, Description="moved on")
    wait_active(lambda_client, name)

    status, code, message = error_of(
        lambda_client.update_function_code,
        FunctionName=name,
        ZipFile=version_zip(2),
        RevisionId=stale,
    )

    assert (status, code, message) == (412, "PreconditionFailedException", PRECONDITION_MESSAGE)


def test_update_code_with_a_bad_zip_is_refused_and_changes_nothing(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    status, code, message = error_of(
        lambda_client.update_function_code, FunctionName=name, ZipFile=b"not a zip"
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith(UNZIP_MESSAGE)
    assert invoke_json(lambda_client, name) == {"version": 1}


# -- DeleteFunction ------------------------------------------------------------------------


def test_delete_function_answers_204_and_then_404(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    response = lambda_client.delete_function(FunctionName=name)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    status, code, message = error_of(lambda_client.get_function, FunctionName=name)
    assert (status, code, message) == (404, "ResourceNotFoundException", not_found(name))


def test_delete_function_over_http_answers_204_with_an_empty_body(lamina_server, make_function):
    name = make_function(VERSION_SOURCE % 1)

    answer = http_call(lamina_server, "DELETE", f"/2015-03-31/functions/{name}")

    assert (answer.status, answer.body) == (204, b"")


def test_every_call_on_a_deleted_function_is_404_function_not_found(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    lambda_client.delete_function(FunctionName=name)
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (lambda_client.get_function, {}),
        (lambda_client.get_function_configuration, {}),
        (lambda_client.update_function_configuration, {"Description": "x"}),
        (lambda_client.update_function_code, {"ZipFile": version_zip(2)}),
        (lambda_client.delete_function, {}),
    ]

    answers = {error_of(call, FunctionName=name, **kwargs) for call, kwargs in calls}

    assert answers == {(404, "ResourceNotFoundException", not_found(name))}


def test_invoking_a_deleted_function_is_404(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)
    lambda_client.delete_function(FunctionName=name)

    status, code, _ = error_of(lambda_client.invoke, FunctionName=name, Payload=b"{}")

    assert (status, code) == (404, "ResourceNotFoundException")


def test_deleting_latest_by_qualifier_is_400_and_keeps_the_function(lambda_client, make_function):
    name = make_function(VERSION_SOURCE % 1)

    status, code, message = error_of(
        lambda_client.delete_function, FunctionName=name, Qualifier="$LATEST"
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "$LATEST version cannot be deleted without deleting the function."
    assert lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_recreating_a_deleted_function_gives_a_fresh_function(lambda_client, fresh_name):
    create(lambda_client, fresh_name, version_zip(1), Description="old", MemorySize=512)
    wait_active(lambda_client, fresh_name)
    lambda_client.delete_function(FunctionName=fresh_name)

    response = create(lambda_client, fresh_name, version_zip(2))

    assert (response["State"], response["Description"], response["MemorySize"]) == (
        "Pending",
        "",
        128,
    )
    wait_active(lambda_client, fresh_name)
    assert invoke_json(lambda_client, fresh_name) == {"version": 2}


# -- GetAccountSettings --------------------------------------------------------------------


def test_account_settings_have_the_limit_and_usage_fields(lambda_client):
    response = lambda_client.get_account_settings()

    assert set(response["AccountLimit"]) >= {
        "CodeSizeUnzipped",
        "CodeSizeZipped",
        "ConcurrentExecutions",
        "TotalCodeSize",
        "UnreservedConcurrentExecutions",
    }
    assert set(response["AccountUsage"]) >= {"FunctionCount", "TotalCodeSize"}
    assert response["AccountLimit"]["CodeSizeZipped"] == MAX_ZIPPED


def test_function_count_and_code_size_rise_after_a_create(lambda_client, make_function):
    before = lambda_client.get_account_settings()["AccountUsage"]
    package = version_zip(99)

    make_function(zip_bytes=package)

    after = lambda_client.get_account_settings()["AccountUsage"]
    assert after["FunctionCount"] == before["FunctionCount"] + 1
    assert after["TotalCodeSize"] == before["TotalCodeSize"] + len(package)


# -- Validation on CreateFunction ----------------------------------------------------------

IPVE = "InvalidParameterValueException"
_RUNTIME_ENUM = "failed to satisfy constraint: Member must satisfy enum value set: ["


def refused(case_id: str, code: str, message_start: str = "", **settings: Any) -> Any:
    return pytest.param(settings, code, message_start, id=case_id)


def package(files: dict[str, str | bytes]) -> dict[str, Any]:
    return {"ZipFile": zip_files(files)}


CREATE_REFUSALS = [
    refused("not-a-zip", IPVE, UNZIP_MESSAGE, Code={"ZipFile": b"this is not a zip"}),
    refused(
        "parent-path", IPVE, UNZIP_MESSAGE, Code=package({"handler.py": "x", "../evil.py": "x"})
    ),
    refused("absolute-path", IPVE, UNZIP_MESSAGE, Code=package({"handler.py": "x", "/etc/x": "x"})),
    refused("symlink", IPVE, UNZIP_MESSAGE, Code={"ZipFile": zip_with_symlink()}),
    refused(
        "unzipped-too-large",
        IPVE,
        f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes",
        Code={"ZipFile": patched_declared_size(zip_files({"a.py": "x"}), MAX_UNZIPPED + 1)},
    ),
    refused(
        "unknown-runtime",
        IPVE,
        f"Value python2.99 at 'runtime' {_RUNTIME_ENUM}",
        Runtime="python2.99",
    ),
    refused(
        "upper-case-runtime",
        IPVE,
        f"Value PYTHON3.12 at 'runtime' {_RUNTIME_ENUM}",
        Runtime="PYTHON3.12",
    ),
    refused(
        "deprecated-runtime",
        IPVE,
        "The runtime parameter of python3.7 is no longer supported for creating or updating "
        "AWS Lambda functions.",
        Runtime="python3.7",
    ),
    refused(
        "role",
        "ValidationException",
        "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: ",
        Role="r1",
    ),
    refused(
        "handler-whitespace",
        "ValidationException",
        "1 validation error detected: Value 'my handler.fn' at 'handler' failed to satisfy "
        "constraint: ",
        Handler="my handler.fn",
    ),
    refused("memory-127", IPVE, MemorySize=127),
    refused("memory-10241", IPVE, MemorySize=10241),
    refused("timeout-0", IPVE, Timeout=0),
    refused("timeout-901", IPVE, Timeout=901),
    refused(
        "reserved-env-key",
        IPVE,
        ENV_MESSAGE + "contains reserved keys that are currently not supported for "
        "modification. Reserved keys used in this request: AWS_REGION",
        Environment={"Variables": {"AWS_REGION": "eu-west-1"}},
    ),
    refused(
        "bad-env-key",
        "ValidationException",
        "1 validation error detected: ",
        Environment={"Variables": {"1abc": "x"}},
    ),
    refused("two-architectures", "ValidationException", Architectures=["x86_64", "arm64"]),
    refused("upper-case-architecture", "ValidationException", Architectures=["X86_64"]),
    refused(
        "51-tags",
        IPVE,
        "Number of tags exceeds resource tag limit.",
        Tags={f"k{i}": "v" for i in range(51)},
    ),
]


@pytest.mark.parametrize(("settings", "code", "message_start"), CREATE_REFUSALS)
def test_create_with_invalid_input_is_400_and_stores_nothing(
    raw_lambda_client, fresh_name, settings, code, message_start
):
    status, actual_code, message = error_of(
        create, client=raw_lambda_client, name=fresh_name, **settings
    )

    assert (status, actual_code) == (400, code)
    assert message.startswith(message_start), message
    assert_not_stored(raw_lambda_client, fresh_name)


@pytest.mark.parametrize(
    "settings",
    [
        {"Runtime": "python2.99"},
        {"Role": "r1"},
        {"Environment": {"Variables": {"AWS_REGION": "x"}}},
        {"Tags": {f"k{i}": "v" for i in range(51)}},
    ],
    ids=["runtime", "role", "environment", "tags"],
)
def test_refused_create_leaves_no_package_on_disk(
    raw_lambda_client, lamina_server, fresh_name, settings
):
    package = unique_package()

    status, _, _ = error_of(
        create, client=raw_lambda_client, name=fresh_name, zip_bytes=package, **settings
    )

    assert status == 400
    assert not stored_package(lamina_server, package).exists()


def test_unknown_runtime_message_lists_aws_runtimes_or_an_arn(lambda_client, fresh_name):
    _, _, message = error_of(create, client=lambda_client, name=fresh_name, Runtime="python2.99")

    assert message.endswith("] or be a valid ARN")
    assert "python3.12, python3.13" in message


def test_runtime_this_server_lacks_is_refused_naming_the_available_runtimes(
    lambda_client, fresh_name
):
    status, code, message = error_of(
        create, client=lambda_client, name=fresh_name, Runtime="java21"
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert "java21" in message and "python3.12" in message
    assert_not_stored(lambda_client, fresh_name)


def test_environment_over_4kb_is_refused_quoting_the_measured_string(lambda_client, fresh_name):
    variables = {"MY_BIG": "x" * 4100}

    status, code, message = error_of(
        create, client=lambda_client, name=fresh_name, Environment={"Variables": variables}
    )

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == ENV_MESSAGE + "exceeded the 4KB limit. String measured: " + json.dumps(
        variables, separators=(",", ":")
    )
    assert_not_stored(lambda_client, fresh_name)


def test_function_name_with_an_invalid_character_is_a_validation_error(lambda_client):
    status, code, message = error_of(create, client=lambda_client, name="my-function!")

    assert (status, code) == (400, "ValidationException")
    assert "Member must satisfy regular expression pattern" in message


def test_function_name_of_65_characters_is_invalid_on_create(lambda_client):
    name = "f" * 65

    status, code, message = error_of(create, client=lambda_client, name=name)

    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.endswith("Member must have length less than or equal to 64")
    assert_not_stored(lambda_client, name)


def test_function_name_with_a_qualifier_is_refused_on_create(lambda_client, fresh_name):
    status, code, _ = error_of(create, client=lambda_client, name=f"{fresh_name}:1")

    assert (status, code) == (400, "ValidationException")
    assert_not_stored(lambda_client, fresh_name)


@pytest.mark.slow
def test_zipped_code_over_50_mb_is_413_and_stores_nothing(lambda_client, fresh_name):
    package = oversized_zip()

    status, code, message = error_of(
        create, client=lambda_client, name=fresh_name, zip_bytes=package
    )

    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert message == f"Zipped size must be smaller than {MAX_ZIPPED} bytes"
    assert_not_stored(lambda_client, fresh_name)


def test_create_request_over_the_request_limit_is_413(lamina_server, fresh_name):
    # Given a request that declares a body larger than CreateFunction accepts, sent headers only
    connection = http.client.HTTPConnection("127.0.0.1", lamina_server.port, timeout=60)
    try:
        connection.putrequest("POST", "/2015-03-31/functions")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(70_167_212))
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()

    assert (response.status, response.getheader("x-amzn-ErrorType")) == (
        413,
        "RequestEntityTooLargeException",
    )
    assert body["message"] == (
        "Request must be smaller than 70167211 bytes for the CreateFunction operation"
    )


# -- Error wire shape ----------------------------------------------------------------------


def test_not_found_error_has_the_type_header_and_a_capitalised_message(lamina_server):
    name = unique_name("missing")

    answer = http_call(lamina_server, "GET", f"/2015-03-31/functions/{name}")

    assert (answer.status, answer.headers["x-amzn-errortype"]) == (404, "ResourceNotFoundException")
    assert answer.json() == {"Type": "User", "Message": not_found(name)}


def test_invalid_parameter_error_body_has_type_user_and_a_message(lamina_server, fresh_name):
    answer = http_call(
        lamina_server, "POST", "/2015-03-31/functions", create_body(fresh_name, Runtime="x9")
    )

    assert (answer.status, answer.headers["x-amzn-errortype"]) == (
        400,
        "InvalidParameterValueException",
    )
    assert set(answer.json()) == {"Type", "message"}
    assert answer.json()["Type"] == "User"


def test_validation_error_body_carries_only_the_message(lamina_server, fresh_name):
    answer = http_call(
        lamina_server, "POST", "/2015-03-31/functions", create_body(fresh_name, Role="r1")
    )

    assert (answer.status, answer.headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert list(answer.json()) == ["message"]


def test_create_over_http_answers_201_with_the_configuration(lamina_server, fresh_name):
    answer = http_call(lamina_server, "POST", "/2015-03-31/functions", create_body(fresh_name))

    assert answer.status == 201
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["FunctionArn"] == fn_arn(fresh_name)


def test_every_response_carries_a_request_id(lamina_server, fresh_name):
    base = "/2015-03-31/functions"
    answers = [
        http_call(lamina_server, "POST", base, create_body(fresh_name)),
        http_call(lamina_server, "GET", f"{base}/{fresh_name}"),
        http_call(lamina_server, "GET", f"{base}/"),
        http_call(lamina_server, "DELETE", f"{base}/{fresh_name}"),
        http_call(lamina_server, "GET", f"{base}/{fresh_name}"),
        http_call(lamina_server, "GET", "/no/such/path"),
    ]

    assert [a.status for a in answers] == [201, 200, 200, 204, 404, 404]
    ids = [a.headers.get("x-amzn-requestid") for a in answers]
    assert all(ids) and len(set(ids)) == len(ids)


def test_unknown_path_is_404_with_an_error_type(lamina_server):
    answer = http_call(lamina_server, "GET", "/2015-03-31/no-such-resource")

    assert answer.status == 404
    assert answer.headers.get("x-amzn-errortype")
    assert answer.json()


def test_request_body_that_is_not_json_is_refused(lamina_server):
    answer = http_call(lamina_server, "POST", "/2015-03-31/functions", raw=b"{not json")

    assert answer.status == 400
    assert answer.headers["x-amzn-errortype"] == "InvalidRequestContentException"
