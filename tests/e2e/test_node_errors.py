"""Node.js function errors end to end: what a failing handler, a broken module, a crash, a
timeout or a dying runtime looks like to the caller, and that the function recovers.

Error documents are AWS's Node.js shape, ``{errorType, errorMessage, trace}`` (no requestId,
unlike Python's), with the types and messages of AWS's runtime interface client (Errors,
UserFunction, index.mjs's uncaughtException / unhandledRejection handlers).
"""

from __future__ import annotations

import pytest

from tests.conftest import MakeFunction, invoke, request_id, tail, wait_active, zip_files

WORKING = "exports.handler = async (event) => ({ working: event });\n"


@pytest.fixture
def actions(make_node: MakeFunction) -> str:
    return make_node(file="actions.js")


# -- errors of the handler -------------------------------------------------------------------


def test_thrown_error_is_reported_in_aws_node_shape(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "throw", "message": "bad input"})

    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    assert sorted(body) == ["errorMessage", "errorType", "trace"]
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad input")
    assert body["trace"][0] == "TypeError: bad input"
    assert any("/var/task/actions.js" in line for line in body["trace"][1:])


def test_rejected_promise_is_reported_as_its_error(lambda_client, actions):
    _, body = invoke(lambda_client, actions, {"action": "reject", "message": "rejected"})

    assert (body["errorType"], body["errorMessage"]) == ("Error", "rejected")


def test_thrown_value_that_is_not_an_error_is_reported_by_its_type(lambda_client, actions):
    _, body = invoke(lambda_client, actions, {"action": "throwString", "message": "plain"})

    assert body == {"errorType": "string", "errorMessage": "plain", "trace": []}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"error": "called back"}, ("Error", "called back")),
        ({"error": "as text", "errorAsString": True}, ("string", "as text")),
        ({"throw": "thrown"}, ("Error", "thrown")),
    ],
    ids=["error", "string", "sync-throw"],
)
def test_callback_handler_errors(lambda_client, make_node, event, expected):
    name = make_node(file="actions.js", handler="actions.viaCallback")
    response, body = invoke(lambda_client, name, event)

    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"how": "fail", "message": "failed"}, ("Error", "failed")),
        ({"how": "fail-empty"}, ("string", "handled")),
    ],
    ids=["fail-with-error", "fail-without"],
)
def test_context_fail_reports_an_error(lambda_client, make_node, event, expected):
    name = make_node(file="actions.js", handler="actions.legacy")
    _, body = invoke(lambda_client, name, event)

    assert (body["errorType"], body["errorMessage"]) == expected


def test_result_that_cannot_be_serialised_is_an_error(lambda_client, actions):
    _, body = invoke(lambda_client, actions, {"action": "bigint"})

    assert (body["errorType"], body["errorMessage"]) == (
        "Error",
        "Unable to stringify response body",
    )


def test_response_over_the_limit_is_a_function_error(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "string", "size": 6_291_556})

    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_async_handler_whose_promise_never_settles_is_a_node_exit_error(lambda_client, actions):
    _, body = invoke(lambda_client, actions, {"action": "never"})

    assert body["errorType"] == "Runtime.NodeJsExit"
    assert body["errorMessage"].startswith(
        "The Lambda runtime client detected an unexpected Node.js exit code."
    )


def test_environment_is_kept_after_a_handled_error(lambda_client, actions):
    invoke(lambda_client, actions, {"action": "throw"})
    _, count = invoke(lambda_client, actions, {"action": "count"})

    assert count == 2


# -- crashes: uncaught exceptions, unhandled rejections, exits ------------------------------


def test_uncaught_exception_fails_the_invocation_with_its_error(lambda_client, actions):
    response, body = invoke(lambda_client, actions, {"action": "throwLater", "message": "late"})

    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "late")


def test_unhandled_rejection_fails_the_invocation(lambda_client, actions):
    _, body = invoke(lambda_client, actions, {"action": "rejectLater", "message": "stray"})

    assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert body["errorMessage"] == "Error: stray"
    assert body["trace"][0] == "Runtime.UnhandledPromiseRejection: Error: stray"


@pytest.mark.parametrize("action", ["throwLater", "rejectLater"])
def test_runtime_starts_afresh_after_a_crash(lambda_client, actions, action):
    invoke(lambda_client, actions, {"action": "count"})
    invoke(lambda_client, actions, {"action": action, "message": "crash"})
    response, count = invoke(lambda_client, actions, {"action": "count"}, LogType="Tail")

    assert count == 1
    assert "\tInit Duration: " in tail(response)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"action": "exit", "code": 0}, "Runtime exited without providing a reason"),
        ({"action": "exit", "code": 3}, "Runtime exited with error: exit status 3"),
        ({"action": "kill"}, "Runtime exited with error: signal: killed"),
    ],
    ids=["exit-0", "exit-3", "sigkill"],
)
def test_process_ending_during_an_invocation_is_a_runtime_exit_error(
    lambda_client, actions, event, reason
):
    response, body = invoke(lambda_client, actions, event)

    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == f"RequestId: {request_id(response)} Error: {reason}"


def test_timeout_is_reported_as_sandbox_timedout(lambda_client, make_node):
    name = make_node(file="actions.js", Timeout=1)
    response, body = invoke(lambda_client, name, {"action": "sleep", "seconds": 3})

    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"] == (
        f"RequestId: {request_id(response)} Error: Task timed out after 1.00 seconds"
    )


def test_invocation_after_a_timeout_starts_a_fresh_runtime(lambda_client, make_node):
    name = make_node(file="actions.js", Timeout=1)
    invoke(lambda_client, name, {"action": "count"})
    invoke(lambda_client, name, {"action": "sleep", "seconds": 3})
    _, count = invoke(lambda_client, name, {"action": "count"})

    assert count == 1


# -- failures while loading the handler ------------------------------------------------------


def test_missing_handler_module_is_an_import_module_error(lambda_client, make_node):
    name = make_node(WORKING, handler="missing.handler")
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == (
        "Error: Cannot find module 'missing'\nRequire stack:\n- /var/runtime/index.mjs"
    )
    assert body["trace"][:3] == [
        "Runtime.ImportModuleError: Error: Cannot find module 'missing'",
        "Require stack:",
        "- /var/runtime/index.mjs",
    ]


def test_missing_dependency_is_an_import_module_error(lambda_client, make_node):
    name = make_node("const x = require('lamina-absent');\nexports.handler = async () => x;\n")
    _, body = invoke(lambda_client, name, {})

    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == (
        "Error: Cannot find module 'lamina-absent'\nRequire stack:\n"
        "- /var/task/index.js\n- /var/runtime/index.mjs"
    )


def test_missing_package_of_an_es_module_is_reported_as_node_reports_it(lambda_client, make_node):
    source = "import x from 'lamina-absent';\nexport const handler = async () => x;\n"
    name = make_node(files={"index.mjs": source})
    _, body = invoke(lambda_client, name, {})

    assert (body["errorType"], body["errorMessage"]) == (
        "Error",
        "Cannot find package 'lamina-absent' imported from /var/task/index.mjs",
    )


@pytest.mark.parametrize(
    "files",
    [{"index.js": "exports.handler = async () => {\n"}, {"index.mjs": "export const = 1;\n"}],
    ids=["commonjs", "esm"],
)
def test_syntax_error_is_a_user_code_syntax_error(lambda_client, make_node, files):
    name = make_node(files=files)
    _, body = invoke(lambda_client, name, {})

    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("SyntaxError: ")


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("actions.nope", "actions.nope is undefined or not exported"),
        ("actions.notAFunction", "actions.notAFunction is not a function"),
    ],
)
def test_missing_handler_is_handler_not_found(lambda_client, make_node, handler, message):
    name = make_node(file="actions.js", handler=handler)
    _, body = invoke(lambda_client, name, {})

    assert (body["errorType"], body["errorMessage"]) == ("Runtime.HandlerNotFound", message)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("index", "Bad handler"),
        (
            "../index.handler",
            "'../index.handler' is not a valid handler name. Use absolute paths when specifying "
            "root directories in handler names.",
        ),
    ],
    ids=["no-dot", "parent-folder"],
)
def test_malformed_handler_name(lambda_client, make_node, handler, message):
    name = make_node(WORKING, handler=handler)
    _, body = invoke(lambda_client, name, {})

    assert (body["errorType"], body["errorMessage"]) == ("Runtime.MalformedHandlerName", message)


def test_error_thrown_while_loading_is_reported_as_itself(lambda_client, make_node):
    name = make_node("throw new RangeError('settings are missing');\n")
    response, body = invoke(lambda_client, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "settings are missing")


def test_exit_while_loading_is_a_runtime_exit_error(lambda_client, make_node):
    name = make_node("process.exit(2);\n")
    response, body = invoke(lambda_client, name, {})

    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == (
        f"RequestId: {request_id(response)} Error: Runtime exited with error: exit status 2"
    )


def test_load_failure_is_reported_again_on_the_next_invocation(lambda_client, make_node):
    name = make_node(WORKING, handler="missing.handler")
    invoke(lambda_client, name, {})
    _, body = invoke(lambda_client, name, {})

    assert body["errorType"] == "Runtime.ImportModuleError"


def test_function_with_broken_code_works_once_the_code_is_fixed(lambda_client, make_node):
    name = make_node("exports.handler = async () => {\n")
    failed, _ = invoke(lambda_client, name, {})
    lambda_client.update_function_code(FunctionName=name, ZipFile=zip_files({"index.js": WORKING}))
    wait_active(lambda_client, name)
    response, body = invoke(lambda_client, name, {"n": 1})

    assert failed["FunctionError"] == "Unhandled"
    assert ("FunctionError" in response, body) == (False, {"working": {"n": 1}})
