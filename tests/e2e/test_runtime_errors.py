"""Function errors end to end: what a failing handler, a broken module, a timeout or a dying
runtime looks like to the caller and in the log, and that the function recovers afterwards.

Function errors are HTTP 200 with ``X-Amz-Function-Error: Unhandled`` and an error document;
types and messages are AWS's, as recorded in AWS-BEHAVIOUR.md (section 5).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import (
    FUNCTIONS_DIR,
    MakeFunction,
    handler_zip,
    invoke,
    request_id,
    tail,
    wait_active,
)

WORKING_HANDLER = (FUNCTIONS_DIR / "actions.py").read_text()

IMPORTS_MISSING_MODULE = """
import lamina_no_such_module

def handler(event, context):
    return 1
"""

SYNTAX_ERROR = """
def handler(event, context)
    return 1
"""

RAISES_AT_IMPORT = """
class ConfigurationError(Exception):
    pass

raise ConfigurationError("settings are missing")
"""

EXITS_AT_IMPORT = """
import sys

sys.exit(0)
"""


@pytest.fixture
def actions(make_function: MakeFunction) -> str:
    return make_function(file="actions.py")


# -- exceptions in the handler ---------------------------------------------------------------


def test_handler_exception_is_reported_as_unhandled_error_document(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "raise", "message": "bad input"})

    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "bad input")
    assert body["requestId"] == request_id(response)


def test_function_error_header_is_on_the_wire(lambda_client, actions):
    response, _ = invoke(lambda_client, actions, {"action": "raise"})

    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"


def test_stack_trace_points_at_the_handler_not_the_runtime(lambda_client, actions):
    _, body = invoke(lambda_client, actions, {"action": "raise"})
    frames = body["stackTrace"]

    assert frames and all("/handler.py" in frame for frame in frames)
    assert any('raise ValueError(event.get("message", "bad value"))' in f for f in frames)


def test_handler_exception_is_logged_with_its_traceback(lambda_client, actions):
    response, _ = invoke(
        lambda_client, actions, {"action": "raise", "message": "bad input"}, LogType="Tail"
    )
    log = tail(response)

    assert "[ERROR] ValueError: bad input" in log
    assert "Traceback (most recent call last):" in log


def test_invocation_after_a_handler_exception_keeps_the_environment(lambda_client, actions):
    invoke(lambda_client, actions, {"action": "raise"})
    response, count = invoke(lambda_client, actions, {"action": "count"})

    assert "FunctionError" not in response
    assert count == 2


# -- failures while loading the handler ------------------------------------------------------


def test_missing_module_is_an_import_module_error(lambda_client, make_function):
    name = make_function(IMPORTS_MISSING_MODULE)
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == (
        "Unable to import module 'handler': No module named 'lamina_no_such_module'"
    )


def test_missing_handler_module_is_an_import_module_error(lambda_client, make_function):
    name = make_function(file="actions.py", handler="handler.handler")
    lambda_client.update_function_configuration(FunctionName=name, Handler="elsewhere.handler")
    wait_active(lambda_client, name)
    _, body = invoke(lambda_client, name, {})

    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == (
        "Unable to import module 'elsewhere': No module named 'elsewhere'"
    )


def test_missing_handler_function_is_handler_not_found(lambda_client, make_function):
    name = make_function(file="actions.py", handler="handler.nope")
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'nope' missing on module 'handler'"


def test_handler_without_a_dot_is_a_malformed_handler_name(lambda_client, make_function):
    name = make_function(file="actions.py", handler="handler")
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MalformedHandlerName"
    assert body["errorMessage"].startswith("Bad handler 'handler': ")


def test_syntax_error_is_a_user_code_syntax_error(lambda_client, make_function):
    name = make_function(SYNTAX_ERROR)
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("Syntax error in module 'handler': ")


def test_exception_at_import_is_reported_with_its_class_and_an_empty_request_id(
    lambda_client, make_function
):
    name = make_function(RAISES_AT_IMPORT)
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == (
        "ConfigurationError",
        "settings are missing",
    )
    assert body["requestId"] == ""


def test_exception_at_import_is_logged_with_its_traceback(
    lambda_client, logs_client, make_function
):
    name = make_function(RAISES_AT_IMPORT)
    invoke(lambda_client, name, {})
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    errors = [e["message"] for e in events if e["message"].startswith("[ERROR]")]

    assert errors and errors[0].startswith("[ERROR] ConfigurationError: settings are missing")
    assert "Traceback (most recent call last):" in errors[0]


def test_sys_exit_at_import_is_a_runtime_exit_error(lambda_client, make_function):
    name = make_function(EXITS_AT_IMPORT)
    response, body = invoke(lambda_client, name, {})

    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == (
        f"RequestId: {request_id(response)} Error: Runtime exited without providing a reason"
    )


def test_import_failure_is_reported_again_on_the_next_invocation(lambda_client, make_function):
    name = make_function(IMPORTS_MISSING_MODULE)
    invoke(lambda_client, name, {})
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"


# -- timeouts --------------------------------------------------------------------------------


def test_timeout_is_reported_as_sandbox_timedout(lambda_client, make_function):
    name = make_function(file="actions.py", Timeout=1)
    response, body = invoke(lambda_client, name, {"action": "sleep", "seconds": 3})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"] == (
        f"RequestId: {request_id(response)} Error: Task timed out after 1.00 seconds"
    )


def test_timeout_is_written_to_the_log(lambda_client, make_function):
    name = make_function(file="actions.py", Timeout=1)
    response, _ = invoke(lambda_client, name, {"action": "sleep", "seconds": 3}, LogType="Tail")

    assert re.search(rf"{request_id(response)} Task timed out after 1\.00 seconds", tail(response))


def test_invocation_after_a_timeout_starts_a_fresh_runtime(lambda_client, make_function):
    name = make_function(file="actions.py", Timeout=1)
    invoke(lambda_client, name, {"action": "count"})
    invoke(lambda_client, name, {"action": "sleep", "seconds": 3})
    response, count = invoke(lambda_client, name, {"action": "count"}, LogType="Tail")

    assert count == 1
    assert "\tInit Duration: " in tail(response)


# -- the runtime process ends ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"action": "exit", "code": 0}, "Runtime exited without providing a reason"),
        ({"action": "exit", "code": 3}, "Runtime exited with error: exit status 3"),
        ({"action": "kill"}, "Runtime exited with error: signal: killed"),
    ],
    ids=["sys-exit-0", "sys-exit-3", "sigkill"],
)
def test_runtime_ending_during_an_invocation_is_a_runtime_exit_error(
    lambda_client, actions, event, reason
):
    response, body = invoke(lambda_client, actions, event)

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == f"RequestId: {request_id(response)} Error: {reason}"


# -- recovery --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        {"action": "raise"},
        {"action": "exit", "code": 0},
        {"action": "exit", "code": 3},
        {"action": "kill"},
        {"action": "string", "size": 6_291_556},
        {"action": "set"},
    ],
    ids=["exception", "sys-exit-0", "sys-exit-3", "sigkill", "too-large", "marshal-error"],
)
def test_function_works_again_after_a_failed_invocation(lambda_client, make_function, failure):
    failing, bystander = make_function(file="actions.py"), make_function(file="actions.py")
    failed, _ = invoke(lambda_client, failing, failure)
    _, other = invoke(lambda_client, bystander, {"action": "echo", "who": "bystander"})
    response, body = invoke(lambda_client, failing, {"action": "echo", "who": "failing"})

    assert failed["FunctionError"] == "Unhandled"
    assert other == {"action": "echo", "who": "bystander"}
    assert ("FunctionError" in response, body) == (False, {"action": "echo", "who": "failing"})


def test_function_works_again_after_a_timeout(lambda_client, make_function):
    failing = make_function(file="actions.py", Timeout=1)
    bystander = make_function(file="actions.py")
    invoke(lambda_client, failing, {"action": "sleep", "seconds": 3})
    _, other = invoke(lambda_client, bystander, {"action": "count"})
    response, body = invoke(lambda_client, failing, {"action": "echo"})

    assert other == 1
    assert ("FunctionError" in response, body) == (False, {"action": "echo"})


@pytest.mark.parametrize(
    "broken",
    [IMPORTS_MISSING_MODULE, SYNTAX_ERROR, RAISES_AT_IMPORT, EXITS_AT_IMPORT],
    ids=["import-error", "syntax-error", "raises-at-import", "exits-at-import"],
)
def test_function_with_broken_code_works_once_the_code_is_fixed(
    lambda_client, make_function, broken
):
    name, bystander = make_function(broken), make_function(file="actions.py")
    failed, _ = invoke(lambda_client, name, {})
    _, other = invoke(lambda_client, bystander, {"action": "count"})
    lambda_client.update_function_code(FunctionName=name, ZipFile=handler_zip(WORKING_HANDLER))
    wait_active(lambda_client, name)
    response, body = invoke(lambda_client, name, {"action": "count"})

    assert (failed["FunctionError"], other) == ("Unhandled", 1)
    assert ("FunctionError" in response, body) == (False, 1)


def test_server_stays_up_after_every_kind_of_failure(lamina_server, lambda_client, actions):
    for event in ({"action": "kill"}, {"action": "exit", "code": 1}, {"action": "raise"}):
        invoke(lambda_client, actions, event)

    assert lamina_server.process is not None and lamina_server.process.poll() is None
    assert invoke(lambda_client, actions, {"action": "echo"})[1] == {"action": "echo"}
