"""Every managed Python runtime the server offers runs functions on its own interpreter, with
the same context, errors and result marshalling as AWS's runtime interface client.

Which runtimes exist is asked of the server: a runtime whose interpreter this host lacks is
refused with InvalidParameterValueException, and its tests are skipped with that message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import MakeFunction

PYTHON_RUNTIMES = ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"]
UNESCAPED_UNICODE_RUNTIMES = {"python3.12", "python3.13"}
"""AWS's runtime client writes non-ASCII results unescaped on these (ensure_ascii=False)."""


@pytest.fixture(params=PYTHON_RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_on_runtime(make_function: MakeFunction, runtime: str) -> Callable[..., str]:
    """Create a function on the parametrised runtime; skip if this host cannot run it."""

    def make(source: str | None = None, **settings: Any) -> str:
        try:
            return make_function(source, runtime=runtime, **settings)
        except ClientError as exc:
            error = exc.response["Error"]
            if error["Code"] == "InvalidParameterValueException" and "not available" in str(
                error["Message"]
            ):
                pytest.skip(f"{runtime} is not available on this host: {error['Message']}")
            raise

    return make


def invoke(client: Any, name: str, event: Any) -> tuple[dict[str, Any], Any]:
    response: dict[str, Any] = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


def test_handler_runs_on_the_interpreter_of_its_runtime(lambda_client, make_on_runtime, runtime):
    name = make_on_runtime(file="introspect.py")
    _, body = invoke(lambda_client, name, {})

    assert f"python{body['python'][0]}.{body['python'][1]}" == runtime


def test_execution_env_names_the_runtime(lambda_client, make_on_runtime, runtime):
    name = make_on_runtime(file="introspect.py")
    _, body = invoke(lambda_client, name, {})

    assert body["environ"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"


def test_context_is_complete_on_every_runtime(lambda_client, make_on_runtime):
    name = make_on_runtime(file="introspect.py")
    response, body = invoke(lambda_client, name, {})
    context = body["context"]

    assert context["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert (context["function_name"], context["memory_limit_in_mb"]) == (name, "128")
    assert 0 < context["remaining_ms"] <= 3000


def test_module_state_survives_warm_invocations_on_every_runtime(lambda_client, make_on_runtime):
    name = make_on_runtime(file="actions.py")
    counts = [invoke(lambda_client, name, {"action": "count"})[1] for _ in range(2)]

    assert counts == [1, 2]


def test_handler_exception_is_reported_alike_on_every_runtime(lambda_client, make_on_runtime):
    name = make_on_runtime(file="actions.py")
    response, body = invoke(lambda_client, name, {"action": "raise", "message": "nope"})

    assert (response["FunctionError"], body["errorType"], body["errorMessage"]) == (
        "Unhandled",
        "ValueError",
        "nope",
    )
    assert body["stackTrace"] and all("/handler.py" in f for f in body["stackTrace"])


def test_import_error_is_reported_alike_on_every_runtime(lambda_client, make_on_runtime):
    name = make_on_runtime(
        "import lamina_absent_module\n\ndef handler(event, context):\n    pass\n"
    )
    _, body = invoke(lambda_client, name, {})

    assert (body["errorType"], body["errorMessage"]) == (
        "Runtime.ImportModuleError",
        "Unable to import module 'handler': No module named 'lamina_absent_module'",
    )


def test_exit_in_handler_is_reported_alike_on_every_runtime(lambda_client, make_on_runtime):
    name = make_on_runtime(file="actions.py")
    response, body = invoke(lambda_client, name, {"action": "exit", "code": 3})
    request_id = response["ResponseMetadata"]["RequestId"]

    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == (
        f"RequestId: {request_id} Error: Runtime exited with error: exit status 3"
    )


def test_non_ascii_result_is_escaped_as_the_runtime_client_does(
    lambda_client, make_on_runtime, runtime
):
    name = make_on_runtime(file="actions.py")
    response = lambda_client.invoke(
        FunctionName=name, Payload=json.dumps({"action": "echo", "text": "héllo ✓"}).encode()
    )
    raw = response["Payload"].read()

    escaped = runtime not in UNESCAPED_UNICODE_RUNTIMES
    assert raw == json.dumps({"action": "echo", "text": "héllo ✓"}, ensure_ascii=escaped).encode()
