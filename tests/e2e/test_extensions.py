"""External extensions over the Lambda Extensions API, in Python, Node.js and custom runtimes.

The extension (``tests/functions/extension.py``) comes in a layer as ``extensions/probe`` and
writes what it receives to its standard output, which lands in the function's log stream as on
AWS: the tests read the log group to see what the extension saw.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import (
    FUNCTIONS_DIR,
    ROLE,
    MakeFunction,
    client_for,
    invoke,
    request_id,
    tail,
    unique_name,
    wait_active,
    zip_files,
)
from tests.e2e.test_runtime_api import package

EXTENSION = (FUNCTIONS_DIR / "extension.py").read_text()

PYTHON_HANDLER = """
import os
import signal
import sys

def on_sigterm(signum, frame):
    print("runtime got SIGTERM", flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_sigterm)

def handler(event, context):
    found = {}
    for name in ("extension-done", "extension-was-here"):
        try:
            with open("/tmp/" + name) as marker:
                found[name] = marker.read()
        except OSError:
            pass
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"request_id": context.aws_request_id, "found": found, "seen_at_init": SEEN_AT_INIT}

try:
    with open("/tmp/extension-was-here") as marker:
        SEEN_AT_INIT = marker.read()
except OSError:
    SEEN_AT_INIT = None
"""

NODE_HANDLER = """
exports.handler = async (event, context) => ({ request_id: context.awsRequestId });
"""

CUSTOM_BOOTSTRAP = r"""#!/usr/bin/env python3
import json, os, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(API + "next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        answer.read()
    body = json.dumps({"request_id": request_id}).encode()
    urllib.request.urlopen(urllib.request.Request(API + request_id + "/response", data=body))
"""

Layer = Callable[..., str]


@pytest.fixture
def extension_layer(lambda_client: Any) -> Iterator[Layer]:
    """Publish a layer with ``extensions/<name>`` for each name given (deleted after)."""
    published: list[tuple[str, int]] = []

    def publish(*names: str, files: dict[str, str | bytes] | None = None) -> str:
        contents: dict[str, str | bytes] = {f"extensions/{n}": EXTENSION for n in names}
        contents.update(files or {})
        executable = tuple(f"extensions/{n}" for n in names)
        layer = lambda_client.publish_layer_version(
            LayerName=unique_name("extension"),
            Content={"ZipFile": package(contents, executable)},
        )
        published.append((layer["LayerArn"].rsplit(":", 1)[1], layer["Version"]))
        return str(layer["LayerVersionArn"])

    yield publish
    for name, version in published:
        with contextlib.suppress(Exception):
            lambda_client.delete_layer_version(LayerName=name, VersionNumber=version)


def make_python(make_function: MakeFunction, layer: str, **variables: str) -> str:
    return make_function(
        PYTHON_HANDLER, Layers=[layer], Environment={"Variables": variables}, Timeout=10
    )


def messages(logs_client: Any, name: str, expected: str, timeout_s: float = 10.0) -> list[str]:
    """Every message of the function's log group, once one containing ``expected`` came."""
    deadline = time.monotonic() + timeout_s
    while True:
        events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        found = [e["message"].rstrip("\n") for e in events]
        if any(expected in m for m in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def stream_of(logs_client: Any, name: str, request: str) -> str:
    """The log stream (the environment) where an invocation started."""
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    start = f"START RequestId: {request} "
    return str(next(e["logStreamName"] for e in events if e["message"].startswith(start)))


def runtime_function(
    kind: str, make_function: MakeFunction, layer: str, node: str | None, **variables: str
) -> str:
    if kind == "python":
        return make_python(make_function, layer, **variables)
    environment = {"Variables": variables}
    if kind == "node":
        if node is None:
            pytest.skip("no node on this host")
        return make_function(
            zip_bytes=zip_files({"index.js": NODE_HANDLER}),
            handler="index.handler",
            runtime=node,
            Layers=[layer],
            Environment=environment,
        )
    code = package({"bootstrap": CUSTOM_BOOTSTRAP}, ("bootstrap",))
    return make_function(
        zip_bytes=code, handler="x.y", runtime="provided.al2023", Layers=[layer],
        MemorySize=512, Environment=environment,
    )  # fmt: skip


@pytest.fixture(scope="module")
def node_or_none() -> str | None:
    from lamina.runtimes import discover
    from lamina.settings import Settings

    catalog = discover(Settings.load().runtime_overrides)
    return next((r for r in ("nodejs22.x", "nodejs20.x", "nodejs18.x") if r in catalog), None)


@pytest.mark.parametrize("kind", ["python", "node", "custom"])
def test_an_extension_registers_and_receives_every_invocation(
    kind, lambda_client, logs_client, make_function, extension_layer, node_or_none
):
    name = runtime_function(kind, make_function, extension_layer("probe"), node_or_none)
    arn = lambda_client.get_function_configuration(FunctionName=name)["FunctionArn"]

    first, answer = invoke(lambda_client, name, {})
    second, _ = invoke(lambda_client, name, {})

    assert answer["request_id"] == request_id(first)
    found = messages(logs_client, name, f"probe INVOKE {request_id(second)}")
    assert "EXTENSION\tName: probe\tState: Ready\tEvents: [INVOKE,SHUTDOWN]" in found
    registered = next(m for m in found if m.startswith("probe registered"))
    assert registered.split(" ", 3)[2] == "200"
    assert json.loads(registered.split(" ", 3)[3])["functionName"] == name
    for response in (first, second):
        line = next(m for m in found if m.startswith(f"probe INVOKE {request_id(response)}"))
        assert line.split()[3] == arn
        assert line.split()[4].startswith("Root=")
    assert found.index("EXTENSION\tName: probe\tState: Ready\tEvents: [INVOKE,SHUTDOWN]") < next(
        i for i, m in enumerate(found) if m.startswith("START")
    )


def test_the_register_answer_names_the_function(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"))

    invoke(lambda_client, name, {})

    registered = next(
        m for m in messages(logs_client, name, "probe registered") if "registered" in m
    )
    assert json.loads(registered.split(" ", 3)[3]) == {
        "functionName": name,
        "functionVersion": "$LATEST",
        "handler": "handler.handler",
    }


def test_the_runtime_starts_once_the_extensions_have_registered(
    lambda_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"), EXT_MODE="barrier")

    _, answer = invoke(lambda_client, name, {})

    assert answer["seen_at_init"] == "probe"


def test_the_response_does_not_wait_for_the_post_runtime_phase(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"), EXT_MODE="slow", EXT_POST_S="1")

    first, _ = invoke(lambda_client, name, {}, LogType="Tail")
    second, _ = invoke(lambda_client, name, {}, LogType="Tail")

    # The caller has its answer before the extension is done (END comes after it) ...
    assert "START RequestId" in tail(first)
    assert "END RequestId" not in tail(first)
    # ... and meanwhile the environment is busy: the next event needs a new one.
    assert stream_of(logs_client, name, request_id(first)) != stream_of(
        logs_client, name, request_id(second)
    )
    found = messages(logs_client, name, f"END RequestId: {request_id(first)}")
    done = found.index(f"probe post-runtime work done {request_id(first)}")
    assert done < found.index(f"END RequestId: {request_id(first)}")
    report = next(m for m in found if m.startswith(f"REPORT RequestId: {request_id(first)}"))
    assert float(report.split("Duration: ")[1].split(" ms")[0]) >= 1000  # covers that phase


def test_an_environment_is_reused_once_its_extensions_are_done(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"), EXT_MODE="slow", EXT_POST_S="0.2")
    first, _ = invoke(lambda_client, name, {})
    messages(logs_client, name, f"END RequestId: {request_id(first)}")

    second, answer = invoke(lambda_client, name, {})

    assert stream_of(logs_client, name, request_id(first)) == stream_of(
        logs_client, name, request_id(second)
    )
    assert answer["found"]["extension-done"] == request_id(first)


def test_an_environment_without_extensions_has_no_extensions_api(lambda_client, make_function):
    name = make_function(
        "import os\ndef handler(event, context):\n"
        "    return os.environ.get('AWS_LAMBDA_RUNTIME_API')\n"
    )

    _, answer = invoke(lambda_client, name, {})

    assert answer is None


# -- shutdown ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["python", "node", "custom"])
def test_extensions_hear_shutdown_when_the_function_changes(
    kind, lambda_client, logs_client, make_function, extension_layer, node_or_none
):
    name = runtime_function(kind, make_function, extension_layer("probe"), node_or_none)
    invoke(lambda_client, name, {})
    time.sleep(1.5)  # idle long enough to be frozen, as environments are between events

    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"CHANGED": "1"}}
    )
    wait_active(lambda_client, name)

    assert "probe SHUTDOWN spindown in-time" in messages(logs_client, name, "probe SHUTDOWN")


def test_the_runtime_gets_sigterm_before_the_extensions_get_shutdown(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"))
    invoke(lambda_client, name, {})

    lambda_client.delete_function(FunctionName=name)

    found = messages(logs_client, name, "probe SHUTDOWN")
    assert found.index("runtime got SIGTERM") < found.index("probe SHUTDOWN spindown in-time")


def test_an_extension_not_subscribed_to_shutdown_is_simply_stopped(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"), EXT_EVENTS='["INVOKE"]')
    invoke(lambda_client, name, {})

    lambda_client.delete_function(FunctionName=name)

    found = messages(logs_client, name, "runtime got SIGTERM")
    assert "EXTENSION\tName: probe\tState: Ready\tEvents: [INVOKE]" in found
    assert not any(m.startswith("probe SHUTDOWN") for m in found)


def test_extensions_hear_why_when_the_function_times_out(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_function(PYTHON_HANDLER, Layers=[extension_layer("probe")], Timeout=1)

    _, error = invoke(lambda_client, name, {"sleep": 5})

    assert error["errorType"] == "Sandbox.Timedout"
    assert "probe SHUTDOWN timeout in-time" in messages(logs_client, name, "probe SHUTDOWN")


def test_extensions_hear_shutdown_when_the_server_stops(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    layer = client.publish_layer_version(
        LayerName=unique_name("extension"),
        Content={"ZipFile": package({"extensions/probe": EXTENSION}, ("extensions/probe",))},
    )
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": zip_files({"handler.py": PYTHON_HANDLER})},
        Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    wait_active(client, name)
    invoke(client, name, {})

    assert server.stop(signal.SIGTERM) == 0
    server.start()

    found = messages(client_for(server.endpoint, "logs"), name, "probe SHUTDOWN")
    assert "probe SHUTDOWN spindown in-time" in found


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["python", "node", "custom"])
def test_an_extension_that_exits_before_registering_fails_the_init(
    kind, lambda_client, logs_client, make_function, extension_layer, node_or_none
):
    layer = extension_layer("probe")
    name = runtime_function(kind, make_function, layer, node_or_none, EXT_MODE="crash")

    response, error = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Extension.Crash"
    assert error["errorMessage"] == (
        f"RequestId: {request_id(response)} Error: probe: exited with exit status 3"
    )
    found = messages(logs_client, name, "INIT_REPORT")
    assert any(
        m.startswith(
            "EXTENSION\tName: probe\tState: Exited\tEvents: []\tError Type: Extension.Crash"
        )
        for m in found
    )
    assert any("Status: error\tError Type: Extension.Crash" in m for m in found)


def test_an_extension_reporting_an_init_error_fails_the_init(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"), EXT_MODE="init-error")

    _, error = invoke(lambda_client, name, {})

    assert error["errorType"] == "Extension.InitError"
    found = messages(logs_client, name, "INIT_REPORT")
    assert "probe init-error 202" in found
    assert any(
        "Error Type: Extension.ConfigInvalid" in m for m in found if m.startswith("EXTENSION")
    )


def test_an_extension_that_cannot_be_started_fails_the_init(
    lambda_client, make_function, extension_layer
):
    layer = extension_layer(files={"extensions/not-executable": "#!/bin/sh\n"})
    name = make_python(make_function, layer)

    _, error = invoke(lambda_client, name, {})

    assert error["errorType"] == "Extension.LaunchError"


def test_an_extension_that_reports_an_exit_error_retires_its_environment(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"), EXT_MODE="exit-error")

    first, answer = invoke(lambda_client, name, {})
    second, _ = invoke(lambda_client, name, {})

    assert answer["request_id"] == request_id(first)  # the runtime's answer stands
    found = messages(logs_client, name, f"REPORT RequestId: {request_id(first)}")
    assert "probe exit-error 202" in found
    report = next(m for m in found if m.startswith(f"REPORT RequestId: {request_id(first)}"))
    assert "\tStatus: error\tError Type: Extension.ExitError" in report
    assert stream_of(logs_client, name, request_id(first)) != stream_of(
        logs_client, name, request_id(second)
    )


def test_calls_out_of_turn_get_aws_answers(
    lambda_client, logs_client, make_function, extension_layer
):
    name = make_python(make_function, extension_layer("probe"), EXT_MODE="misuse")

    invoke(lambda_client, name, {})

    line = next(m for m in messages(logs_client, name, "probe misuse") if "misuse" in m)
    assert json.loads(line.split(" ", 2)[2]) == {
        "again": [403, "Extension.InvalidExtensionState"],
        "bad_event": [403, "Extension.InvalidEventType"],
        "bad_id": [403, "Extension.InvalidExtensionIdentifier"],
        "no_error_type": [403, "Extension.MissingHeader"],
        "no_id": [403, "Extension.MissingExtensionIdentifier"],
        "no_name": [403, "Extension.InvalidExtensionName"],
        "unknown_id": [403, "Extension.UnknownExtensionIdentifier"],
    }


def test_extensions_hear_shutdown_when_an_idle_environment_is_reaped(start_server):
    server = start_server("--idle-timeout", "1")
    client = client_for(server.endpoint)
    layer = client.publish_layer_version(
        LayerName=unique_name("extension"),
        Content={"ZipFile": package({"extensions/probe": EXTENSION}, ("extensions/probe",))},
    )
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": zip_files({"handler.py": PYTHON_HANDLER})},
        Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    wait_active(client, name)

    invoke(client, name, {})

    found = messages(client_for(server.endpoint, "logs"), name, "probe SHUTDOWN")
    assert "probe SHUTDOWN spindown in-time" in found


@pytest.mark.parametrize("kind", ["python", "custom"])
def test_extensions_work_with_the_process_sandbox(kind, start_server):
    server = start_server("--sandbox", "process")
    client = client_for(server.endpoint)
    layer = client.publish_layer_version(
        LayerName=unique_name("extension"),
        Content={"ZipFile": package({"extensions/probe": EXTENSION}, ("extensions/probe",))},
    )
    if kind == "python":
        runtime, code = "python3.12", zip_files({"handler.py": PYTHON_HANDLER})
    else:
        runtime, code = "provided.al2023", package({"bootstrap": CUSTOM_BOOTSTRAP}, ("bootstrap",))
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": code}, Layers=[layer["LayerVersionArn"]],
    )  # fmt: skip
    wait_active(client, name)

    response, answer = invoke(client, name, {})
    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"CHANGED": "1"}}
    )
    wait_active(client, name)

    assert answer["request_id"] == request_id(response)
    found = messages(client_for(server.endpoint, "logs"), name, "probe SHUTDOWN")
    assert any(m.startswith(f"probe INVOKE {request_id(response)}") for m in found)
    assert "probe SHUTDOWN spindown in-time" in found


def test_extensions_work_on_the_oldest_python_runtime(
    lambda_client, logs_client, make_function, extension_layer
):
    """The relay runs on the function's interpreter when it forks from its zygote."""
    name = make_function(PYTHON_HANDLER, runtime="python3.9", Layers=[extension_layer("probe")])

    response, _ = invoke(lambda_client, name, {})
    lambda_client.delete_function(FunctionName=name)

    found = messages(logs_client, name, "probe SHUTDOWN")
    assert any(m.startswith(f"probe INVOKE {request_id(response)}") for m in found)
    assert found.index("runtime got SIGTERM") < found.index("probe SHUTDOWN spindown in-time")


def test_a_streamed_response_passes_an_extension_by(
    lambda_client, logs_client, make_node, extension_layer
):
    name = make_node(
        file="streaming.js", handler="streaming.chunks", Layers=[extension_layer("probe")]
    )

    response = lambda_client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"parts": ["one", "two"]})
    )
    events = list(response["EventStream"])

    assert [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e] == [b"one", b"two"]
    assert events[-1] == {"InvokeComplete": {}}
    request = response["ResponseMetadata"]["RequestId"]
    found = messages(logs_client, name, f"probe INVOKE {request}")
    assert any(m.startswith(f"probe INVOKE {request}") for m in found)
