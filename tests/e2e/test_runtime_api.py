"""Custom runtimes over the Lambda Runtime API, and AWS's own Python runtime client on it.

A ``provided.al2023`` function brings its ``bootstrap``; lamina serves it the Runtime API at
``AWS_LAMBDA_RUNTIME_API`` inside its environment. The bootstrap below is a small Python
program (the host's ``/usr/bin/python3``) that speaks the API by hand, so each test can make
it call the API the way a test needs and report what it was answered.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import awslambdaric
import pytest

from tests.conftest import ROLE, MakeFunction, client_for, invoke, tail, unique_name, wait_active

BOOTSTRAP = r"""#!/usr/bin/env python3
import json, os, subprocess, sys, urllib.error, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post(path, document, error_type=None):
    headers = {"Lambda-Runtime-Function-Error-Type": error_type} if error_type else {}
    status, _, body = call("POST", path, json.dumps(document).encode(), headers)
    return [status, json.loads(body)]


if os.environ.get("FAIL_INIT"):
    print(post("/init/error", {"errorMessage": "no config", "errorType": "Custom.InitError"},
               "Custom.InitError"))
    sys.exit(1)
if os.environ.get("EXIT_IN_INIT"):
    sys.exit(3)

early = post("/invocation/none/response", {})  # before any event: out of turn
after_last = {}  # what the API answered after the previous response was sent
while True:
    status, headers, body = call("GET", "/invocation/next")
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    event = json.loads(body)
    action = event.get("action")
    if action == "error":
        post("/invocation/%s/error" % request_id,
             {"errorMessage": "it broke", "errorType": "Custom.Failure", "stackTrace": ["x"]},
             "Custom.Failure")
        continue
    if action == "curl":  # as AWS's tutorial bootstrap answers: curl, which asks to continue
        with open("/tmp/response.json", "w") as out:  # over 1 MB
            out.write('"' + "y" * 1_100_000 + '"')
        done = subprocess.run(
            ["curl", "-sv", "-o", "/dev/null", "--data-binary", "@/tmp/response.json",
             API + "/invocation/%s/response" % request_id], capture_output=True)
        after_last = {"curl": [line for line in done.stderr.decode().splitlines()
                               if line.startswith(("> Expect", "< HTTP/"))]}
        continue
    if action == "big":
        status, _, answer = call("POST", "/invocation/%s/response" % request_id,
                                 b'"' + b"x" * 6_300_000 + b'"')
        after_last = {"big": [status, json.loads(answer)]}
        continue
    report = {
        "event": event,
        "headers": {k: v for k, v in headers.items() if k.startswith("Lambda-Runtime-")},
        "early": early,
        "env": {k: os.environ.get(k) for k in
                ("AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV",
                 "AWS_LAMBDA_FUNCTION_NAME", "PATH")},
        "argv0": sys.argv[0],
        "after_last": after_last,
    }
    if action == "misuse":
        report["wrong_id"] = post("/invocation/not-the-id/response", {})
        report["next_too_soon"] = [call("GET", "/invocation/next")[0]]
    after_last = {"answered": post("/invocation/%s/response" % request_id, report)}
    if action == "misuse":
        after_last["second"] = post("/invocation/%s/response" % request_id, {})
"""

RIC_BOOTSTRAP = '#!/bin/sh\nexport PYTHONPATH=/var/task\nexec python3 -m awslambdaric "$_HANDLER"\n'
RIC_APP = """
import os

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
    }
"""


def package(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def custom(make_function: MakeFunction, **settings: Any) -> str:
    code = settings.pop("zip_bytes", None) or package({"bootstrap": BOOTSTRAP}, ("bootstrap",))
    handler = settings.pop("handler", "my.handler")
    return make_function(
        zip_bytes=code, runtime="provided.al2023", handler=handler, MemorySize=1024, **settings
    )


def test_a_custom_runtime_is_served_the_runtime_api(lambda_client, make_function):
    name = custom(make_function)
    arn = lambda_client.get_function_configuration(FunctionName=name)["FunctionArn"]

    response, report = invoke(lambda_client, name, {"hello": "world"}, LogType="Tail")

    assert "FunctionError" not in response
    assert report["event"] == {"hello": "world"}
    headers = report["headers"]
    assert (
        headers["Lambda-Runtime-Aws-Request-Id"]
        == response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    )
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == arn
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) > 0
    assert report["env"]["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert report["env"]["_HANDLER"] == "my.handler"
    assert report["env"]["LAMBDA_TASK_ROOT"] == "/var/task"
    assert report["env"]["AWS_EXECUTION_ENV"] is None
    assert report["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert report["argv0"] == "/var/task/bootstrap"
    _, next_report = invoke(lambda_client, name, {})
    assert next_report["after_last"] == {"answered": [202, {"status": "OK"}]}


def test_the_environment_is_reused_while_warm(lambda_client, make_function):
    name = custom(make_function)

    first, _ = invoke(lambda_client, name, {"n": 1}, LogType="Tail")
    second, report = invoke(lambda_client, name, {"n": 2}, LogType="Tail")

    assert "Init Duration" in tail(first)
    assert "Init Duration" not in tail(second)
    assert report["event"] == {"n": 2}


def test_client_context_and_trace_id_reach_the_runtime(lambda_client, make_function):
    name = custom(make_function)
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()

    _, report = invoke(lambda_client, name, {}, ClientContext=context)

    assert json.loads(report["headers"]["Lambda-Runtime-Client-Context"]) == {"custom": {"k": "v"}}
    assert report["headers"]["Lambda-Runtime-Trace-Id"].startswith("Root=")


def test_calls_out_of_turn_get_aws_answers(lambda_client, make_function):
    name = custom(make_function)

    _, report = invoke(lambda_client, name, {"action": "misuse"})
    _, next_report = invoke(lambda_client, name, {})

    assert report["early"][0] == 403
    assert report["early"][1]["errorType"] == "InvalidStateTransition"
    assert report["wrong_id"] == [
        400,
        {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"},
    ]
    assert report["next_too_soon"] == [403]
    second = next_report["after_last"]["second"]
    assert second[0] == 403
    assert second[1]["errorType"] == "InvalidStateTransition"
    assert second[1]["errorMessage"].startswith("State transition from RuntimeResponseSentState")


def test_an_error_reported_by_the_runtime_is_the_invocations_error(lambda_client, make_function):
    name = custom(make_function)

    response, error = invoke(lambda_client, name, {"action": "error"})

    assert response["FunctionError"] == "Unhandled"
    assert error == {"errorMessage": "it broke", "errorType": "Custom.Failure", "stackTrace": ["x"]}
    _, after = invoke(lambda_client, name, {"n": 3})
    assert after["event"] == {"n": 3}  # the runtime carries on with the next event


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on the host")
def test_a_client_that_expects_100_continue_is_answered_at_once(lambda_client, make_function):
    name = custom(make_function)

    _, result = invoke(lambda_client, name, {"action": "curl"})
    _, next_report = invoke(lambda_client, name, {})

    assert result == "y" * 1_100_000
    assert next_report["after_last"]["curl"] == [
        "> Expect: 100-continue",
        "< HTTP/1.1 100 Continue",
        "< HTTP/1.1 202 Accepted",
    ]


def test_an_oversized_response_is_refused_with_413(lambda_client, make_function):
    name = custom(make_function)

    response, error = invoke(lambda_client, name, {"action": "big"})
    _, next_report = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert next_report["after_last"]["big"] == [
        413,
        {
            "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
            "errorType": "RequestEntityTooLarge",
        },
    ]


def test_an_init_error_is_answered_to_the_first_invocation(lambda_client, make_function):
    name = custom(make_function, Environment={"Variables": {"FAIL_INIT": "1"}})

    response, error = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error == {"errorMessage": "no config", "errorType": "Custom.InitError"}


def test_a_runtime_that_exits_during_init_is_an_exit_error(lambda_client, make_function):
    name = custom(make_function, Environment={"Variables": {"EXIT_IN_INIT": "1"}})

    response, error = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]


def test_a_missing_bootstrap_is_an_invalid_entrypoint(lambda_client, make_function):
    name = custom(make_function, zip_bytes=package({"readme.txt": "no bootstrap here"}))

    response, error = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorMessage": "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
        "errorType": "Runtime.InvalidEntrypoint",
    }


def test_a_bootstrap_that_is_not_executable_is_an_invalid_entrypoint(lambda_client, make_function):
    name = custom(make_function, zip_bytes=package({"bootstrap": BOOTSTRAP}))

    response, error = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.InvalidEntrypoint"


def test_the_bootstrap_can_come_from_a_layer(lambda_client, make_function):
    layer = lambda_client.publish_layer_version(
        LayerName=unique_name("runtime"),
        Content={"ZipFile": package({"bootstrap": BOOTSTRAP}, ("bootstrap",))},
    )
    try:
        name = custom(
            make_function,
            zip_bytes=package({"handler.txt": "code without a runtime"}),
            Layers=[layer["LayerVersionArn"]],
        )
        _, report = invoke(lambda_client, name, {"from": "layer"})
    finally:
        lambda_client.delete_layer_version(
            LayerName=layer["LayerArn"].rsplit(":", 1)[1], VersionNumber=layer["Version"]
        )

    assert report["argv0"] == "/opt/bootstrap"
    assert report["event"] == {"from": "layer"}


def test_another_environment_cannot_reach_a_runtime_api(lambda_client, make_function):
    runtime = custom(make_function)
    invoke(lambda_client, runtime, {})  # its Runtime API is up and serving
    prober = make_function(
        "import socket\n"
        "def handler(event, context):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', 9001), timeout=2).close()\n"
        "        return 'reached'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
    )

    _, outcome = invoke(lambda_client, prober, {})

    assert outcome == "ConnectionRefusedError"


def test_custom_runtimes_work_with_the_process_sandbox(start_server):
    server = start_server("--sandbox", "process")
    client = client_for(server.endpoint)
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="my.handler",
        Code={"ZipFile": package({"bootstrap": BOOTSTRAP}, ("bootstrap",))},
    )  # fmt: skip
    wait_active(client, name)

    _, report = invoke(client, name, {"sandbox": "process"})

    assert report["event"] == {"sandbox": "process"}
    assert report["env"]["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")


# -- AWS's runtime interface client, unmodified --------------------------------------------------


def ric_package(app: str) -> bytes:
    """A function bundling awslambdaric (and what it needs) from this test environment."""
    site = Path(awslambdaric.__file__).parent.parent
    files: dict[str, str | bytes] = {"app.py": app, "bootstrap": RIC_BOOTSTRAP}
    names = ("awslambdaric", "simplejson", "snapshot_restore_py.py", "runtime_client.cpython-")
    for entry in site.iterdir():
        if not entry.name.startswith(names) or entry.name.endswith(".dist-info"):
            continue
        paths = [entry] if entry.is_file() else sorted(p for p in entry.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" not in path.parts:
                files[str(path.relative_to(site))] = path.read_bytes()
    return package(files, ("bootstrap",))


@pytest.fixture(scope="module")
def ric_zip() -> bytes:
    return ric_package(RIC_APP)


def test_awslambdaric_completes_invocations(lambda_client, make_function, ric_zip):
    name = custom(make_function, zip_bytes=ric_zip, handler="app.handler")
    arn = lambda_client.get_function_configuration(FunctionName=name)["FunctionArn"]

    response, result = invoke(lambda_client, name, {"k": "v"})
    _, again = invoke(lambda_client, name, {"k": "w"})

    assert "FunctionError" not in response
    assert result["event"] == {"k": "v"}
    assert result["request_id"] == response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert result["function_name"] == name
    assert result["arn"] == arn
    assert 0 < result["remaining_ms"] <= 3000
    assert again["event"] == {"k": "w"}


def test_awslambdaric_reports_handler_errors(lambda_client, make_function, ric_zip):
    name = custom(make_function, zip_bytes=ric_zip, handler="app.handler")

    response, error = invoke(lambda_client, name, {"fail": True})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail"
    assert isinstance(error["stackTrace"], list)


def test_awslambdaric_reports_init_errors(lambda_client, make_function):
    code = ric_package("import module_that_is_not_there\n")
    name = custom(make_function, zip_bytes=code, handler="app.handler")

    response, error = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_is_not_there" in error["errorMessage"]
