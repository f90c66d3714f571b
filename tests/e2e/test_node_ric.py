"""AWS's Node.js runtime interface client (``aws-lambda-ric`` on npm), unmodified, in lamina.

A ``provided.al2023`` function bundles ``node_modules`` exactly as ``npm install
aws-lambda-ric`` made it (native addon included) and a ``bootstrap`` that starts the client
on the host's node, as AWS's custom-image instructions do. The client then speaks the Runtime
API served inside the environment (its native client, aws-lambda-cpp over libcurl, for
next/response/error; Node's ``http`` for init errors), so these tests hold lamina's relay to
what that client expects from AWS, and lamina's sandbox to what its addon needs to load.

The package is built once per machine and cached (``tests/npm_packages.py``); the first run
builds it, which takes minutes on two cores: hence this module's longer timeout.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ROLE,
    MakeFunction,
    client_for,
    invoke,
    request_id,
    tail,
    unique_name,
    wait_active,
)
from tests.npm_packages import RIC_VERSION, aws_lambda_ric, function_zip

pytestmark = pytest.mark.timeout(1500)  # the first run builds the package (see above)

BASE_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
"""Where a custom runtime's ``PATH`` finds programs of the base system."""

BOOTSTRAP = (
    '#!/bin/sh\nexec node "$LAMBDA_TASK_ROOT/node_modules/aws-lambda-ric/index.mjs" "$_HANDLER"\n'
)

APP = """\
let invocations = 0;
const loadedAt = Date.now();

exports.handler = async (event, context) => {
  invocations += 1;
  if (event.fail) {
    const error = new TypeError("asked to fail");
    error.detail = "kept out of the error document";
    throw error;
  }
  if (event.crash) {
    setTimeout(() => { throw new Error("thrown from a timer"); }, 0);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (event.exit) {
    process.exit(event.exit);
  }
  if (event.size) {
    return "x".repeat(event.size);
  }
  console.log("handling", JSON.stringify(event));
  return {
    event,
    invocations,
    loadedAt,
    awsRequestId: context.awsRequestId,
    invokedFunctionArn: context.invokedFunctionArn,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    remainingMs: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext,
  };
};

exports.viaCallback = (event, context, callback) => callback(null, event);
"""

ESM_APP = """\
export const handler = async (event) => ({ module: "esm", event });
"""

BROKEN = """\
throw new RangeError("no configuration found");
exports.handler = async () => "never";
"""


def ric_package() -> bytes:
    """One deployment package for every test (identical zips are stored and unpacked once):
    the installed ``node_modules``, the bootstrap and the handler modules."""
    files = {"bootstrap": BOOTSTRAP, "app.js": APP, "esm.mjs": ESM_APP, "broken.js": BROKEN}
    return function_zip(_installed_modules(), files, executable=("bootstrap",))


def _installed_modules() -> Path:
    """The cached install; skipped where the bootstrap could not find a node: a custom runtime
    sees the host's base system (``/usr``, ``/bin``) and nothing else of it."""
    if not any(os.access(f"{folder}/node", os.X_OK) for folder in BASE_PATH):
        pytest.skip(f"no node in {', '.join(BASE_PATH)} for a custom runtime to run")
    if shutil.which("npm") is None:
        pytest.skip("building aws-lambda-ric needs npm on the host")
    return aws_lambda_ric(RIC_VERSION)


@pytest.fixture(scope="module")
def ric_zip() -> bytes:
    return ric_package()


def ric_function(make_function: MakeFunction, code: bytes, handler: str, **settings: Any) -> str:
    return make_function(
        zip_bytes=code, runtime="provided.al2023", handler=handler, MemorySize=512, **settings
    )


def test_the_client_completes_an_invocation_with_the_context(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")
    arn = lambda_client.get_function_configuration(FunctionName=name)["FunctionArn"]

    response, result = invoke(lambda_client, name, {"k": "v", "n": [1, 2]}, LogType="Tail")

    assert "FunctionError" not in response
    assert result["event"] == {"k": "v", "n": [1, 2]}
    assert result["awsRequestId"] == request_id(response)
    assert result["invokedFunctionArn"] == arn
    assert result["functionName"] == name
    assert result["functionVersion"] == "$LATEST"
    assert result["memoryLimitInMB"] == "512"
    assert result["logGroupName"] == f"/aws/lambda/{name}"
    assert 0 < result["remainingMs"] <= 3000
    assert f"\t{request_id(response)}\tINFO\thandling {{" in tail(response)


def test_the_client_reuses_its_environment_while_warm(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")

    first, one = invoke(lambda_client, name, {"n": 1}, LogType="Tail")
    second, two = invoke(lambda_client, name, {"n": 2}, LogType="Tail")

    assert (one["invocations"], two["invocations"]) == (1, 2)
    assert one["loadedAt"] == two["loadedAt"]
    assert "Init Duration" in tail(first)
    assert "Init Duration" not in tail(second)


def test_a_qualified_invocation_passes_the_qualified_arn(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")
    version = lambda_client.publish_version(FunctionName=name)

    _, result = invoke(lambda_client, name, {}, Qualifier=version["Version"])

    assert result["invokedFunctionArn"] == version["FunctionArn"]
    assert result["functionVersion"] == version["Version"]


def test_the_client_loads_es_modules(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "esm.handler")

    _, result = invoke(lambda_client, name, {"x": 1})

    assert result == {"module": "esm", "event": {"x": 1}}


def test_a_callback_handler_is_refused_at_init_by_the_client(lambda_client, make_function, ric_zip):
    """aws-lambda-ric 4 is the client of AWS's Node.js 24 runtime, which dropped callback
    handlers: it refuses them at init, whatever node it runs on."""
    name = ric_function(make_function, ric_zip, "app.viaCallback")

    response, error = invoke(lambda_client, name, {"y": 2})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert error["errorMessage"].startswith(
        "ERROR: AWS Lambda has removed support for callback-based function handlers"
    )


def test_a_handler_error_has_aws_error_shape(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")

    response, error = invoke(lambda_client, name, {"fail": True}, LogType="Tail")
    _, after = invoke(lambda_client, name, {"n": 3})

    assert response["FunctionError"] == "Unhandled"
    assert set(error) == {"errorType", "errorMessage", "trace"}
    assert error["errorType"] == "TypeError"
    assert error["errorMessage"] == "asked to fail"
    assert error["trace"][0] == "TypeError: asked to fail"
    assert any("/var/task/app.js" in line for line in error["trace"][1:])
    assert "\tERROR\tInvoke Error \t" in tail(response)
    assert after["event"] == {"n": 3}
    assert after["invocations"] == 2  # the same environment carried on


def test_an_init_error_has_aws_error_shape(lambda_client, logs_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "broken.handler")

    response, error = invoke(lambda_client, name, {})
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "RangeError"
    assert error["errorMessage"] == "no configuration found"
    assert error["trace"][0] == "RangeError: no configuration found"
    assert any("\tERROR\tInit Error \t{" in event["message"] for event in events)


def test_a_missing_handler_module_is_an_import_module_error(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "nowhere.handler")

    response, error = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "nowhere" in error["errorMessage"]


def test_a_large_response_reaches_the_caller(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")

    response, result = invoke(lambda_client, name, {"size": 5_000_000})

    assert "FunctionError" not in response
    assert result == "x" * 5_000_000


def test_an_oversized_response_is_a_response_size_error(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")

    response, error = invoke(lambda_client, name, {"size": 6_300_000})
    _, after = invoke(lambda_client, name, {"n": 4})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert after["event"] == {"n": 4}


def test_the_client_context_reaches_the_handler(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")
    context = {"custom": {"k": "v"}, "env": {"platform": "test"}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()

    _, result = invoke(lambda_client, name, {}, ClientContext=encoded)

    assert result["clientContext"] == context


def test_an_uncaught_exception_ends_the_runtime_and_its_environment(
    lambda_client, make_function, ric_zip
):
    """aws-lambda-ric 4 sets no handler for uncaught exceptions: node exits with status 1,
    which AWS reports as Runtime.ExitError; the next invocation starts a new environment."""
    name = ric_function(make_function, ric_zip, "app.handler")
    invoke(lambda_client, name, {"n": 1})

    response, error = invoke(lambda_client, name, {"crash": True})
    again, after = invoke(lambda_client, name, {"n": 2}, LogType="Tail")

    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {request_id(response)} Error: Runtime exited with error: exit status 1"
        ),
    }
    assert after["invocations"] == 1  # a fresh environment
    assert "Init Duration" in tail(again)


def test_process_exit_in_the_handler_is_an_exit_error(lambda_client, make_function, ric_zip):
    name = ric_function(make_function, ric_zip, "app.handler")

    response, error = invoke(lambda_client, name, {"exit": 3})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"] == (
        f"RequestId: {request_id(response)} Error: Runtime exited with error: exit status 3"
    )


def test_the_clients_node_http_path_works_too(lambda_client, make_function, ric_zip):
    """``AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1=true`` makes the client wait for events
    with Node's own http module (keep-alive) instead of its native client."""
    variables = {"AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1": "true"}
    name = ric_function(make_function, ric_zip, "app.handler", Environment={"Variables": variables})

    response, first = invoke(lambda_client, name, {"n": 1})
    _, second = invoke(lambda_client, name, {"n": 2})

    assert first["awsRequestId"] == request_id(response)
    assert (first["event"], second["event"]) == ({"n": 1}, {"n": 2})
    assert second["invocations"] == 2


def test_the_client_runs_in_the_process_sandbox(start_server, ric_zip):
    server = start_server("--sandbox", "process")
    client = client_for(server.endpoint)
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": ric_zip},
    )  # fmt: skip
    wait_active(client, name)

    response, result = invoke(client, name, {"sandbox": "process"})

    assert result["event"] == {"sandbox": "process"}
    assert result["awsRequestId"] == request_id(response)
