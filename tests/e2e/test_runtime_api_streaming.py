"""Custom runtimes that stream: a chunked POST to the Runtime API reaches the client as it is sent.

The ``provided.al2023`` bootstrap below speaks HTTP by hand over a socket (the host's
``/usr/bin/python3``), so it controls each chunk and the trailers AWS documents for errors
mid-stream (``Lambda-Runtime-Function-Error-Type``, ``Lambda-Runtime-Function-Error-Body``);
a second one is a shell script streaming with ``curl -T -``.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from tests.conftest import MakeFunction, invoke
from tests.e2e.test_response_streaming import (
    _environment_tmp,
    complete,
    payload,
    stream,
)
from tests.e2e.test_runtime_api import package

BOOTSTRAP = r"""#!/usr/bin/env python3
import base64, json, os, socket, time, urllib.request

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
API = "/2018-06-01/runtime"


def next_event():
    with urllib.request.urlopen("http://%s:%s%s/invocation/next" % (HOST, PORT, API)) as answer:
        return answer.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(answer.read())


def stream_response(request_id, parts, content_type, trailers=None, before_each=None):
    sock = socket.create_connection((HOST, int(PORT)))
    head = (
        "POST %s/invocation/%s/response HTTP/1.1\r\n"
        "Host: %s:%s\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Content-Type: %s\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        "\r\n" % (API, request_id, HOST, PORT, content_type)
    )
    sock.sendall(head.encode())
    for index, part in enumerate(parts):
        if before_each:
            before_each(index)
        data = part.encode()
        sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
    end = b"0\r\n"
    for name, value in (trailers or {}).items():
        end += ("%s: %s\r\n" % (name, value)).encode()
    sock.sendall(end + b"\r\n")
    answer = sock.recv(65536).decode()
    sock.close()
    return answer.split(" ", 2)[1]


last_status = None
while True:
    request_id, event = next_event()
    action = event.get("action")
    if action == "handshake":
        token = event["token"]

        def wait_for_go(index):
            if index == 1:
                open("/tmp/ready-" + token, "w").close()
                while not os.path.exists("/tmp/go-" + token):
                    time.sleep(0.005)

        last_status = stream_response(request_id, ["one", "two"], "text/plain",
                                      before_each=wait_for_go)
    elif action == "fail":
        error = {"errorMessage": "disk on fire", "errorType": "Custom.StreamError",
                 "stackTrace": []}
        trailers = {
            "Lambda-Runtime-Function-Error-Type": "Custom.StreamError",
            "Lambda-Runtime-Function-Error-Body":
                base64.b64encode(json.dumps(error).encode()).decode(),
        }
        last_status = stream_response(request_id, ["some ", "bytes"], "text/plain", trailers)
    elif action == "report":
        body = json.dumps({"last_status": last_status}).encode()
        request = urllib.request.Request(
            "http://%s:%s%s/invocation/%s/response" % (HOST, PORT, API, request_id), data=body,
            method="POST")
        urllib.request.urlopen(request).read()
    else:
        parts = event.get("parts", ["a", "b", "c"])
        big = event.get("big_megabytes")
        if big:
            parts = ["y" * (1 << 20)] * big
        last_status = stream_response(request_id, parts, "text/event-stream")
"""

SHELL_BOOTSTRAP = r"""#!/bin/sh
# A custom runtime in shell: each event's "lines" streamed as they are produced, with curl.
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^lambda-runtime-aws-request-id:' "$HEADERS" | cut -d: -f2 | tr -d '[:space:]')
  COUNT=$(echo "$EVENT" | sed -n 's/.*"count": *\([0-9]*\).*/\1/p')
  i=1
  while [ "$i" -le "${COUNT:-3}" ]; do echo "line $i"; i=$((i + 1)); done | curl -sS -o /dev/null \
    -X POST -T - -H "Lambda-Runtime-Function-Response-Mode: streaming" \
    -H "Transfer-Encoding: chunked" -H "Content-Type: text/plain" "$API/invocation/$ID/response"
done
"""


def custom(make_function: MakeFunction, **settings: Any) -> str:
    code = package({"bootstrap": BOOTSTRAP}, ("bootstrap",))
    return make_function(
        zip_bytes=code, runtime="provided.al2023", handler="unused", MemorySize=512, **settings
    )


def test_a_custom_runtime_streams_each_chunk_it_posts(lambda_client, make_function):
    name = custom(make_function)

    response, events = stream(lambda_client, name, {"parts": ["data: 1\n\n", "data: 2\n\n"]})

    assert response["StatusCode"] == 200
    assert events == [
        {"PayloadChunk": {"Payload": b"data: 1\n\n"}},
        {"PayloadChunk": {"Payload": b"data: 2\n\n"}},
        {"InvokeComplete": {}},
    ]


def test_a_custom_runtime_chunk_reaches_the_client_before_the_next_is_posted(
    lambda_client, make_function
):
    name = custom(make_function, Timeout=60)
    token = uuid.uuid4().hex
    response = lambda_client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"action": "handshake", "token": token})
    )
    events = iter(response["EventStream"])

    first = next(events)

    assert first == {"PayloadChunk": {"Payload": b"one"}}
    (_environment_tmp(token) / f"go-{token}").write_text("")
    assert list(events) == [{"PayloadChunk": {"Payload": b"two"}}, {"InvokeComplete": {}}]


def test_error_trailers_end_the_stream_with_the_runtimes_error(lambda_client, make_function):
    name = custom(make_function)

    _, events = stream(lambda_client, name, {"action": "fail"})

    assert payload(events) == b"some bytes"
    assert complete(events) == {"ErrorCode": "Custom.StreamError", "ErrorDetails": "disk on fire"}


def test_the_runtime_api_accepts_a_streamed_response_with_202(lambda_client, make_function):
    name = custom(make_function)
    stream(lambda_client, name, {"parts": ["x"]})

    _, report = invoke(lambda_client, name, {"action": "report"})

    assert report == {"last_status": "202"}


def test_a_plain_invoke_of_a_streaming_custom_runtime_gets_the_whole_response(
    lambda_client, make_function
):
    name = custom(make_function)

    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"parts": ["a", "b"]}))

    assert "FunctionError" not in response
    assert response["Payload"].read() == b"ab"


def test_an_error_in_trailers_is_a_function_error_for_a_plain_invoke(lambda_client, make_function):
    name = custom(make_function)

    response, body = invoke(lambda_client, name, {"action": "fail"})

    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Custom.StreamError"
    assert body["errorMessage"] == "disk on fire"


def test_a_custom_runtime_streams_more_than_six_mb(lambda_client, make_function):
    name = custom(make_function, Timeout=60)

    _, events = stream(lambda_client, name, {"big_megabytes": 8})

    assert payload(events) == b"y" * (8 << 20)
    assert complete(events) == {}


def test_log_tail_of_a_streamed_custom_runtime_response(lambda_client, make_function):
    name = custom(make_function)

    _, events = stream(lambda_client, name, {"parts": ["z"]}, LogType="Tail")

    log = base64.b64decode(complete(events)["LogResult"]).decode()
    assert "START RequestId:" in log and "REPORT RequestId:" in log


def test_a_shell_bootstrap_streams_with_curl(lambda_client, make_function):
    code = package({"bootstrap": SHELL_BOOTSTRAP}, ("bootstrap",))
    name = make_function(zip_bytes=code, runtime="provided.al2023", handler="unused")

    _, events = stream(lambda_client, name, {"count": 4})

    assert payload(events) == b"line 1\nline 2\nline 3\nline 4\n"
    assert complete(events) == {}
