"""Node.js log lines end to end: console.* in AWS's format, one event per call, the runtime's own
error lines, and the platform lines around them.

AWS's Node.js runtime writes ``<ISO time>\\t<request id>\\t<LEVEL>\\t<util.format(...)>`` for
console.log/info/warn/error/debug/trace (LogPatch in its runtime interface client), with
newlines inside one message kept in one event; errors it reports are logged as
``Invoke Error \\t{json}`` or ``Uncaught Exception \\t{json}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import MakeFunction, invoke, request_id, tail

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def actions(make_node: MakeFunction) -> str:
    return make_node(file="actions.js")


def log_calls(client: Any, name: str, *calls: tuple[str, list[Any]]) -> tuple[Any, str]:
    """Have the function call console methods; the response and its log tail."""
    response, _ = invoke(
        client, name, {"action": "log", "calls": [list(c) for c in calls]}, LogType="Tail"
    )
    return response, tail(response)


@pytest.mark.parametrize(
    ("method", "level"),
    [
        ("log", "INFO"),
        ("info", "INFO"),
        ("warn", "WARN"),
        ("error", "ERROR"),
        ("debug", "DEBUG"),
        ("trace", "TRACE"),
    ],
)
def test_console_methods_write_aws_log_lines(lambda_client, actions, method, level):
    response, log = log_calls(lambda_client, actions, (method, ["hello"]))

    assert re.search(rf"^{TIME}\t{request_id(response)}\t{level}\thello$", log, re.MULTILINE)


def test_console_arguments_are_formatted_as_node_formats_them(lambda_client, actions):
    _, log = log_calls(lambda_client, actions, ("log", ["%s=%d", "a", 1]), ("log", [{"k": [1]}]))

    assert "\tINFO\ta=1\n" in log
    assert "\tINFO\t{ k: [ 1 ] }\n" in log


def test_console_log_without_arguments_writes_undefined(lambda_client, actions):
    _, log = log_calls(lambda_client, actions, ("log", []))

    assert "\tINFO\tundefined\n" in log


def test_a_multi_line_message_is_one_log_event(lambda_client, logs_client, actions):
    invoke(lambda_client, actions, {"action": "log", "calls": [["log", ["first\nsecond"]]]})
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{actions}")["events"]
    messages = [e["message"] for e in events if "\tINFO\t" in e["message"]]

    assert len(messages) == 1
    assert messages[0].endswith("\tINFO\tfirst\nsecond")


def test_stdout_written_directly_is_not_formatted(lambda_client, actions):
    response, _ = invoke(
        lambda_client, actions, {"action": "write", "text": "raw line\n"}, LogType="Tail"
    )

    assert "\nraw line\n" in tail(response)


def test_handler_error_is_logged_as_an_invoke_error(lambda_client, actions):
    response, _ = invoke(
        lambda_client, actions, {"action": "throw", "message": "bad input"}, LogType="Tail"
    )
    found = re.search(rf"\t{request_id(response)}\tERROR\tInvoke Error \t(.*)", tail(response))

    assert found is not None
    logged = json.loads(found.group(1))
    assert (logged["errorType"], logged["errorMessage"]) == ("TypeError", "bad input")
    assert logged["stack"][0] == "TypeError: bad input"


def test_uncaught_exception_is_logged_as_such(lambda_client, actions):
    response, _ = invoke(
        lambda_client, actions, {"action": "throwLater", "message": "late"}, LogType="Tail"
    )

    assert f"\t{request_id(response)}\tERROR\tUncaught Exception \t{{" in tail(response)


def test_init_output_and_init_errors_carry_an_undefined_request_id(
    lambda_client, logs_client, make_node
):
    name = make_node("console.log('loading');\nthrow new Error('no config');\n")
    invoke(lambda_client, name, {})
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    messages = [e["message"] for e in events]

    assert any(re.fullmatch(rf"{TIME}\tundefined\tINFO\tloading", m) for m in messages)
    assert any(
        re.match(rf"{TIME}\tundefined\tERROR\tUncaught Exception \t\{{\"errorType\":\"Error\"", m)
        for m in messages
    )


def test_log_tail_has_start_output_end_and_report(lambda_client, actions):
    response, log = log_calls(lambda_client, actions, ("log", ["inside"]))
    lines = log.splitlines()
    rid = request_id(response)

    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {rid}"
    assert lines[-1].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert any(line.endswith("\tINFO\tinside") for line in lines)


def test_log_level_variable_silences_the_levels_below_it(lambda_client, make_node):
    name = make_node(file="actions.js", Environment={"Variables": {"AWS_LAMBDA_LOG_LEVEL": "WARN"}})
    _, log = log_calls(lambda_client, name, ("info", ["quiet"]), ("warn", ["loud"]))

    assert ("\tINFO\tquiet" in log, "\tWARN\tloud" in log) == (False, True)
