"""The Node.js runtimes end to end: handler styles, the context object, module formats and
paths, the environment AWS sets, layers and the lifecycle of an environment.

Behaviour follows AWS's Node.js runtime interface client (aws-lambda-nodejs-runtime-interface-
client: UserFunction, CallbackContext, InvokeContext) and the environments LocalStack recorded
against AWS (test_lambda_common.snapshot.json, introspection of nodejs runtimes).
"""

from __future__ import annotations

import base64
import json
import os
import shutil

import pytest
from botocore.exceptions import ClientError

from lamina.runtimes import discover
from lamina.settings import Settings
from tests.conftest import (
    NODE_RUNTIMES,
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


@pytest.fixture
def actions(make_node: MakeFunction) -> str:
    return make_node(file="actions.js")


@pytest.fixture
def introspect(make_node: MakeFunction) -> str:
    return make_node(file="introspect.js")


# -- handler styles --------------------------------------------------------------------------


def test_async_handler_result_is_the_response(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "echo", "n": 1})

    assert (response["StatusCode"], "FunctionError" in response) == (200, False)
    assert body == {"action": "echo", "n": 1}


def test_callback_handler_result_is_the_response(lambda_client, make_node):
    name = make_node(file="actions.js", handler="actions.viaCallback")
    _, body = invoke(lambda_client, name, {"result": "via callback"})

    assert body == {"result": "via callback", "waits": True}


def test_handler_that_neither_returns_nor_calls_back_answers_null(lambda_client, make_node):
    name = make_node(file="actions.js", handler="actions.noCallback")
    response = lambda_client.invoke(FunctionName=name, Payload=b'{"tag": 1}')

    assert response["Payload"].read() == b"null"


@pytest.mark.parametrize(
    ("event", "expected"),
    [({"how": "succeed", "result": 1}, 1), ({"how": "done", "result": [2]}, [2])],
    ids=["succeed", "done"],
)
def test_legacy_context_methods_answer(lambda_client, make_node, event, expected):
    name = make_node(file="actions.js", handler="actions.legacy")
    _, body = invoke(lambda_client, name, event)

    assert body == expected


def test_only_the_first_completion_counts(lambda_client, make_node):
    name = make_node(file="actions.js", handler="actions.twice")
    _, body = invoke(lambda_client, name, {})

    assert body == "first"


# -- the event loop and callbackWaitsForEmptyEventLoop ---------------------------------------


def test_callback_waits_for_pending_timers_by_default(lambda_client, make_node):
    name = make_node(file="actions.js", handler="actions.viaCallback")
    response, body = invoke(lambda_client, name, {"timer": "timer fired"}, LogType="Tail")
    log = tail(response)

    assert body["waits"] is True
    assert log.index("\tINFO\ttimer fired") < log.index("END RequestId")


def test_callback_answers_before_pending_timers_when_told_not_to_wait(lambda_client, make_node):
    name = make_node(file="actions.js", handler="actions.viaCallback")
    event = {"wait": False, "timer": "late timer", "timerMs": 2000}
    response, body = invoke(lambda_client, name, event, LogType="Tail")

    assert body["waits"] is False
    assert "late timer" not in tail(response)


def test_async_handler_answers_without_waiting_for_timers(lambda_client, make_node):
    name = make_node(
        """
        exports.handler = async () => {
          setTimeout(() => console.log('after the answer'), 2000);
          return 'answered';
        };
        """
    )
    response, body = invoke(lambda_client, name, {}, LogType="Tail")

    assert body == "answered"
    assert "after the answer" not in tail(response)


# -- the context object ----------------------------------------------------------------------


def test_context_carries_the_fields_aws_sets(lambda_client, introspect):
    response, body = invoke(lambda_client, introspect, {})
    context = body["context"]

    assert context["awsRequestId"] == request_id(response)
    assert (context["functionName"], context["functionVersion"]) == (introspect, "$LATEST")
    assert context["memoryLimitInMB"] == "128"
    assert context["invokedFunctionArn"] == (
        f"arn:aws:lambda:us-east-1:000000000000:function:{introspect}"
    )
    assert context["logGroupName"] == f"/aws/lambda/{introspect}"
    assert context["logStreamName"].startswith(tuple("0123456789"))
    assert context["callbackWaitsForEmptyEventLoop"] is True


def test_context_has_the_legacy_methods(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})

    assert body["context"]["methods"] == ["succeed", "fail", "done", "getRemainingTimeInMillis"]


def test_context_serialises_as_on_aws(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})

    assert list(body["context"])[:9] == [
        "callbackWaitsForEmptyEventLoop",
        "functionVersion",
        "functionName",
        "memoryLimitInMB",
        "logGroupName",
        "logStreamName",
        "invokedFunctionArn",
        "awsRequestId",
        "remaining",
    ]


def test_invoked_function_arn_names_the_qualifier_used(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {}, Qualifier="$LATEST")

    assert body["context"]["invokedFunctionArn"].endswith(f":function:{introspect}:$LATEST")


def test_remaining_time_counts_down_from_the_timeout(lambda_client, make_node):
    name = make_node(file="actions.js", Timeout=7)
    _, body = invoke(lambda_client, name, {"action": "remaining"})

    assert 0 < body["second"] < body["first"] <= 7000


def test_client_context_reaches_the_handler(lambda_client, introspect):
    sent = {"custom": {"tenant": "blue"}, "env": {"platform": "test"}}
    encoded = base64.b64encode(json.dumps(sent).encode()).decode()
    _, body = invoke(lambda_client, introspect, {}, ClientContext=encoded)

    assert body["context"]["clientContext"] == sent


def test_client_context_and_identity_are_undefined_when_not_given(lambda_client, introspect):
    _, body = invoke(lambda_client, introspect, {})

    assert (body["context"]["clientContext"], body["context"]["hasIdentity"]) == (
        "undefined",
        False,
    )


# -- module formats and handler paths --------------------------------------------------------

ESM_SOURCE = "export const handler = async (event) => ({ format: 'esm', event });\n"


@pytest.mark.parametrize(
    "files",
    [
        {"index.mjs": ESM_SOURCE},
        {"index.js": ESM_SOURCE, "package.json": '{"type": "module"}'},
        {"index.cjs": "exports.handler = async (event) => ({ format: 'esm', event });\n"},
    ],
    ids=["mjs", "js-in-module-package", "cjs"],
)
def test_module_formats_load_as_on_aws(lambda_client, make_node, files):
    name = make_node(files=files)
    _, body = invoke(lambda_client, name, {"n": 1})

    assert body == {"format": "esm", "event": {"n": 1}}


def test_esm_module_may_await_at_top_level(lambda_client, make_node):
    source = (
        "const ready = await Promise.resolve('awaited');\n"
        "export const handler = async () => ready;\n"
    )
    name = make_node(files={"index.mjs": source})

    assert invoke(lambda_client, name, {})[1] == "awaited"


def test_handler_in_a_folder_is_named_with_its_path(lambda_client, make_node):
    name = make_node(
        files={"src/app.js": "exports.handler = async () => __filename;\n"},
        handler="src/app.handler",
    )

    assert invoke(lambda_client, name, {})[1] == "/var/task/src/app.js"


def test_nested_export_is_named_with_dots(lambda_client, make_node):
    name = make_node(file="actions.js", handler="actions.nested.api.get")

    assert invoke(lambda_client, name, {})[1] == "nested export"


def test_packages_in_the_function_node_modules_resolve(lambda_client, make_node):
    library = "exports.value = 'from node_modules';\n"
    name = make_node(file="actions.js", files={"node_modules/mylib/index.js": library})

    assert invoke(lambda_client, name, {"action": "require", "module": "mylib"})[1] == (
        "from node_modules"
    )


@pytest.mark.parametrize("folder", ["nodejs/node_modules", "nodejs/node{major}/node_modules"])
def test_layer_node_modules_resolve(lambda_client, make_node, node_runtime, folder):
    major = node_runtime.removeprefix("nodejs").removesuffix(".x")
    path = f"{folder.format(major=major)}/layerlib/index.js"
    layer = lambda_client.publish_layer_version(
        LayerName=unique_name("layer"),
        Content={"ZipFile": zip_files({path: "exports.value = 'from a layer';\n"})},
    )
    try:
        name = make_node(file="actions.js", Layers=[layer["LayerVersionArn"]])
        _, body = invoke(lambda_client, name, {"action": "require", "module": "layerlib"})
    finally:
        lambda_client.delete_layer_version(
            LayerName=layer["LayerArn"].rsplit(":", 1)[1], VersionNumber=layer["Version"]
        )

    assert body == "from a layer"


# -- the environment -------------------------------------------------------------------------


def test_function_runs_on_a_node_of_its_runtime(lambda_client, introspect, node_runtime):
    _, body = invoke(lambda_client, introspect, {})

    assert f"nodejs{body['node'].split('.')[0]}.x" == node_runtime


def test_function_sees_the_variables_aws_sets_for_node(lambda_client, introspect, node_runtime):
    _, body = invoke(lambda_client, introspect, {})
    environ = body["environ"]
    major = node_runtime.removeprefix("nodejs").removesuffix(".x")

    assert environ["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{node_runtime}"
    assert environ["NODE_PATH"] == (
        f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
        "/var/runtime/node_modules:/var/runtime:/var/task"
    )
    assert (environ["LAMBDA_TASK_ROOT"], environ["LAMBDA_RUNTIME_DIR"]) == (
        "/var/task",
        "/var/runtime",
    )
    assert (environ["_HANDLER"], environ["TZ"], environ["LANG"]) == (
        "introspect.handler",
        ":UTC",
        "en_US.UTF-8",
    )
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == introspect
    assert body["cwd"] == "/var/task"
    assert "_LAMINA_CONTROL_FD" not in environ


def test_node_path_set_by_the_function_wins(lambda_client, make_node):
    name = make_node(file="introspect.js", Environment={"Variables": {"NODE_PATH": "/var/task"}})

    assert invoke(lambda_client, name, {})[1]["environ"]["NODE_PATH"] == "/var/task"


def test_heap_is_sized_from_the_function_memory(lambda_client, make_node):
    name = make_node(file="actions.js", MemorySize=256)
    _, heap_limit = invoke(lambda_client, name, {"action": "heap"})

    assert heap_limit < 2 * 256 * 1024 * 1024


def test_node_options_of_the_function_size_the_heap_instead(lambda_client, make_node):
    options = {"NODE_OPTIONS": "--max-old-space-size=40"}
    name = make_node(file="actions.js", MemorySize=1024, Environment={"Variables": options})
    _, heap_limit = invoke(lambda_client, name, {"action": "heap"})

    assert heap_limit < 100 * 1024 * 1024


# -- lifecycle -------------------------------------------------------------------------------


def test_module_state_survives_warm_invocations(lambda_client, actions):
    counts = [invoke(lambda_client, actions, {"action": "count"})[1] for _ in range(3)]

    assert counts == [1, 2, 3]


def test_init_duration_is_reported_only_on_the_cold_start(lambda_client, actions):
    first, _ = invoke(lambda_client, actions, {}, LogType="Tail")
    second, _ = invoke(lambda_client, actions, {}, LogType="Tail")

    assert "\tInit Duration: " in tail(first)
    assert "\tInit Duration: " not in tail(second)


def test_init_start_names_the_node_runtime(lambda_client, logs_client, actions, node_runtime):
    invoke(lambda_client, actions, {})
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{actions}")["events"]
    major = node_runtime.removeprefix("nodejs").removesuffix(".x")

    assert events[0]["message"].startswith(f"INIT_START Runtime Version: nodejs:{major}.")


def test_a_node_runtime_without_a_node_on_this_host_is_refused(start_server, monkeypatch):
    monkeypatch.setenv("LAMINA_RUNTIME_NODEJS18_X", "/nonexistent/bin/node")
    client = client_for(start_server().endpoint)
    package = zip_files({"index.js": "exports.handler = async () => 1;\n"})
    with pytest.raises(ClientError) as raised:
        client.create_function(
            FunctionName=unique_name(), Runtime="nodejs18.x", Role=ROLE,
            Handler="index.handler", Code={"ZipFile": package},
        )  # fmt: skip
    error = raised.value.response["Error"]

    assert error["Code"] == "InvalidParameterValueException"
    assert "The runtime nodejs18.x is not available on this lamina server" in error["Message"]


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_every_node_runtime_runs_on_a_node_of_its_major_version(lambda_client, make_node, runtime):
    if runtime not in discover(Settings.load().runtime_overrides):
        pytest.skip(f"no node for {runtime} on this host, and none from the npm registry")
    name = make_node(file="introspect.js", runtime=runtime)
    _, body = invoke(lambda_client, name, {})

    assert f"nodejs{body['node'].split('.')[0]}.x" == runtime
    assert body["environ"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"


def test_a_runtime_override_pins_the_node_binary(start_server, monkeypatch, node_runtime):
    node = discover(Settings.load().runtime_overrides).get(node_runtime)
    assert node is not None
    pinned = "nodejs22.x" if node_runtime != "nodejs22.x" else "nodejs18.x"
    monkeypatch.setenv(f"LAMINA_RUNTIME_{pinned.upper().replace('.', '_')}", str(node.interpreter))
    client = client_for(start_server().endpoint)
    name = unique_name()
    package = zip_files(
        {"index.js": "exports.handler = async () => process.env.AWS_EXECUTION_ENV;"}
    )
    client.create_function(
        FunctionName=name, Runtime=pinned, Role=ROLE, Handler="index.handler",
        Code={"ZipFile": package},
    )  # fmt: skip
    wait_active(client, name)

    assert invoke(client, name, {})[1] == f"AWS_Lambda_{pinned}"


def test_an_interpreter_installed_under_tmp_stays_visible_in_the_sandbox(
    start_server, monkeypatch, node_runtime, tmp_path
):
    node = discover(Settings.load().runtime_overrides).get(node_runtime)
    assert node is not None
    copy = tmp_path / "node-under-tmp" / "bin" / "node"  # pytest's tmp_path lies under /tmp
    copy.parent.mkdir(parents=True)
    try:
        os.link(node.interpreter, copy)
    except OSError:  # another file system
        shutil.copy2(node.interpreter, copy)
    monkeypatch.setenv(f"LAMINA_RUNTIME_{node_runtime.upper().replace('.', '_')}", str(copy))
    client = client_for(start_server().endpoint)
    name = unique_name()
    package = zip_files({"index.js": "exports.handler = async () => process.execPath;"})
    client.create_function(
        FunctionName=name, Runtime=node_runtime, Role=ROLE, Handler="index.handler",
        Code={"ZipFile": package},
    )  # fmt: skip
    wait_active(client, name)

    assert invoke(client, name, {})[1] == str(copy)
