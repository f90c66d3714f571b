#!/usr/bin/env python3
"""An external extension for the tests: put in a layer as ``extensions/<name>``.

It speaks the Extensions API by hand and writes what it does and what it was answered to its
standard output, which lands in the function's log stream. ``EXT_MODE`` (a function variable,
shared with extensions as on AWS) makes it misbehave in the ways a test needs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
NAME = Path(sys.argv[0]).name
MODE = os.environ.get("EXT_MODE", "")


Answer = tuple[int, dict[str, str], bytes]


def call(
    method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def say(*words: Any) -> None:
    print(NAME, *words, flush=True)


def register(name: str, events: list[str]) -> Answer:
    body = json.dumps({"events": events}).encode()
    return call("POST", "/register", body, {"Lambda-Extension-Name": name})


def error_type(answer: Answer) -> list[Any]:
    return [answer[0], json.loads(answer[2]).get("errorType")]


def misuse(identifier: str) -> None:
    """Calls AWS refuses, and what they were answered."""
    found = {
        "again": error_type(register(NAME, ["INVOKE"])),
        "no_id": error_type(call("GET", "/event/next")),
        "bad_id": error_type(
            call("GET", "/event/next", None, {"Lambda-Extension-Identifier": "?"})
        ),
        "unknown_id": error_type(
            call("GET", "/event/next", None, {"Lambda-Extension-Identifier": str(uuid.uuid4())})
        ),
        "bad_event": error_type(register("another", ["BOGUS"])),
        "no_name": error_type(call("POST", "/register", b'{"events": []}')),
        "no_error_type": error_type(
            call("POST", "/init/error", b"{}", {"Lambda-Extension-Identifier": identifier})
        ),
    }
    say("misuse", json.dumps(found, sort_keys=True))


def main() -> None:
    if MODE == "crash":
        say("crashing before registering")
        sys.exit(3)
    if MODE == "barrier":
        Path("/tmp/extension-was-here").write_text(NAME)
    events = json.loads(os.environ.get("EXT_EVENTS", '["INVOKE", "SHUTDOWN"]'))
    status, headers, body = register(NAME, events)
    identifier = headers.get("Lambda-Extension-Identifier", "")
    say("registered", status, body.decode())
    me = {"Lambda-Extension-Identifier": identifier}
    if MODE == "misuse":
        misuse(identifier)
    if MODE == "init-error":
        failure = {"Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid", **me}
        say("init-error", call("POST", "/init/error", b"{}", failure)[0])
        sys.exit(1)
    while True:
        status, headers, body = call("GET", "/event/next", None, me)
        event = json.loads(body)
        if event["eventType"] == "SHUTDOWN":
            left_ms = event["deadlineMs"] - time.time() * 1000
            say("SHUTDOWN", event["shutdownReason"], "in-time" if left_ms > 0 else "late")
            sys.exit(0)
        say("INVOKE", event["requestId"], event["invokedFunctionArn"], event["tracing"]["value"])
        if MODE == "slow":
            time.sleep(float(os.environ.get("EXT_POST_S", "1")))
            Path("/tmp/extension-done").write_text(event["requestId"])
            say("post-runtime work done", event["requestId"])
        if MODE == "exit-error":
            failure = {"Lambda-Extension-Function-Error-Type": "Extension.Broken", **me}
            say("exit-error", call("POST", "/exit/error", b"{}", failure)[0])
            sys.exit(1)


main()
