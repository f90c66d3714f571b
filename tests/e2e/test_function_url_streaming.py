"""Function URLs with ``InvokeMode: RESPONSE_STREAM`` over plain HTTP: a chunked body sent as the
function writes it, status and headers from the ``HttpResponseStream`` prelude."""

from __future__ import annotations

import http.client
import urllib.parse
import uuid
from typing import Any

import pytest

from tests.conftest import MakeFunction, call_url
from tests.e2e.test_function_url_serving import public_url
from tests.e2e.test_response_streaming import _environment_tmp


@pytest.fixture
def streaming_url(lambda_client, make_node: MakeFunction) -> str:
    name = make_node(file="streaming.js", handler="streaming.url", Timeout=60)
    return public_url(lambda_client, name, InvokeMode="RESPONSE_STREAM")


def _open(function_url: str, path: str) -> tuple[http.client.HTTPConnection, Any]:
    parsed = urllib.parse.urlsplit(function_url)
    assert parsed.port is not None
    connection = http.client.HTTPConnection("127.0.0.1", parsed.port, timeout=60)
    connection.request("GET", path, headers={"Host": parsed.netloc})
    return connection, connection.getresponse()


def test_status_headers_and_cookies_come_from_the_prelude(streaming_url):
    answered = call_url(streaming_url, "/")

    assert answered.status == 201
    assert answered.header("content-type") == "text/html"
    assert answered.header("x-custom") == "yes"
    assert answered.all("set-cookie") == ["a=1", "b=2"]
    assert answered.body == b"<p>hello world</p>"


def test_the_body_is_sent_with_chunked_transfer_encoding(streaming_url):
    answered = call_url(streaming_url, "/")

    assert answered.header("transfer-encoding") == "chunked"
    assert answered.header("content-length") is None
    assert answered.header("x-amzn-requestid")


def test_a_piece_reaches_the_client_before_the_function_writes_the_next(streaming_url):
    token = uuid.uuid4().hex
    connection, response = _open(streaming_url, f"/handshake?token={token}")
    try:
        assert response.status == 200
        assert response.read(3) == b"one"
        (_environment_tmp(token) / f"go-{token}").write_text("")
        assert response.read() == b"two"
    finally:
        connection.close()


def test_a_prelude_is_sent_before_a_body_given_only_to_end(streaming_url):
    answered = call_url(streaming_url, "/end-only")

    assert (answered.status, answered.body) == (418, b"teapot")
    assert answered.header("content-type") == "application/octet-stream"


def test_without_a_prelude_the_status_is_200_with_the_streams_content_type(streaming_url):
    answered = call_url(streaming_url, "/plain")

    assert answered.status == 200
    assert answered.header("content-type") == "text/plain; charset=utf-8"
    assert answered.body == b"plain text"


def test_a_stream_without_a_content_type_is_octet_stream(streaming_url):
    answered = call_url(streaming_url, "/raw")

    assert answered.header("content-type") == "application/octet-stream"
    assert answered.body == b"no content type set"


def test_a_failure_before_any_byte_is_502(streaming_url):
    answered = call_url(streaming_url, "/fails-first")

    assert (answered.status, answered.body) == (502, b"Internal Server Error")


def test_a_failure_after_some_bytes_ends_the_body_there(streaming_url):
    answered = call_url(streaming_url, "/fails-later")

    assert answered.status == 200
    assert answered.body == b"started "


def test_a_python_function_behind_a_streaming_url_is_answered_whole(lambda_client, make_function):
    name = make_function(
        "def handler(event, context):\n"
        "    return {'statusCode': 202, 'headers': {'x-py': '1'}, 'body': 'whole'}\n"
    )
    url = public_url(lambda_client, name, InvokeMode="RESPONSE_STREAM")

    answered = call_url(url, "/")

    assert (answered.status, answered.header("x-py"), answered.body) == (202, "1", b"whole")


def test_cors_headers_are_added_to_a_streamed_response(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.url")
    url = public_url(
        lambda_client,
        name,
        InvokeMode="RESPONSE_STREAM",
        Cors={"AllowOrigins": ["https://example.com"], "ExposeHeaders": ["x-custom"]},
    )

    answered = call_url(url, "/", headers={"Origin": "https://example.com"})

    assert answered.header("access-control-allow-origin") == "https://example.com"
    assert answered.header("access-control-expose-headers") == "x-custom"
    assert answered.body == b"<p>hello world</p>"


def test_a_buffered_url_of_the_same_function_gets_the_whole_body(lambda_client, make_node):
    name = make_node(file="streaming.js", handler="streaming.url")
    url = public_url(lambda_client, name)

    answered = call_url(url, "/plain")

    assert answered.status == 200
    assert answered.header("transfer-encoding") is None
    assert answered.body == b"plain text"
