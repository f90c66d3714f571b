"""Payload format 2.0 and CORS rules, as pure functions."""

from __future__ import annotations

import base64
import json

import pytest

from lamina.api import cors
from lamina.invoke import http_event
from lamina.invoke.http_event import HttpRequest, InvalidResponseError


def request(**changes: object) -> HttpRequest:
    values: dict[str, object] = {
        "method": "GET", "raw_path": "/", "path": "/", "raw_query": "", "headers": [],
        "body": b"", "url_id": "u" * 32, "domain_name": "d", "account_id": "anonymous",
        "request_id": "r", "time_epoch_ms": 1583348638390,
    }  # fmt: skip
    values.update(changes)
    return HttpRequest(**values)  # type: ignore[arg-type]


def test_time_is_in_common_log_format():
    assert http_event.event(request())["requestContext"]["time"] == "04/Mar/2020:19:03:58 +0000"


def test_query_values_of_a_repeated_key_are_joined_by_commas():
    event = http_event.event(request(raw_query="a=1&a=2&b=&c=x+y"))

    assert event["queryStringParameters"] == {"a": "1,2", "b": "", "c": "x y"}


def test_cookie_headers_become_the_cookies_list():
    event = http_event.event(request(headers=[("cookie", "a=1; b=2"), ("cookie", "c=3")]))

    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]


def test_json_bodies_are_text_and_others_base64():
    as_json = http_event.event(request(body=b"{}", headers=[("content-type", "application/json")]))
    unknown = http_event.event(request(body=b"{}"))

    assert (as_json["body"], as_json["isBase64Encoded"]) == ("{}", False)
    assert (unknown["body"], unknown["isBase64Encoded"]) == (base64.b64encode(b"{}").decode(), True)


@pytest.mark.parametrize(
    ("result", "status", "body"),
    [
        ({"a": "b"}, 200, b'{"a":"b"}'),
        ("text", 200, b"text"),
        ({"statusCode": 204}, 204, b""),
        ({"statusCode": 200, "body": {"nested": 1}}, 200, b'{"nested":1}'),
    ],
)
def test_results_map_to_responses(result, status, body):
    response = http_event.response(json.dumps(result).encode())

    assert (response.status, response.body) == (status, body)


def test_a_header_with_a_line_break_is_refused():
    result = {"statusCode": 200, "headers": {"x": "a\r\nSet-Cookie: evil=1"}}

    with pytest.raises(InvalidResponseError):
        http_event.response(json.dumps(result).encode())


def test_an_invalid_base64_body_is_refused():
    with pytest.raises(InvalidResponseError):
        http_event.response(b'{"statusCode": 200, "body": "***", "isBase64Encoded": true}')


def test_the_function_content_type_is_kept_and_hop_headers_dropped():
    result = {"statusCode": 200, "headers": {"Content-Type": "text/html", "Connection": "close"}}

    response = http_event.response(json.dumps(result).encode())

    assert response.headers == [("content-type", "text/html")]


@pytest.mark.parametrize(
    ("settings", "origin", "allowed"),
    [
        ({"AllowOrigins": ["https://a.example"]}, "https://a.example", "https://a.example"),
        ({"AllowOrigins": ["https://a.example"]}, "https://b.example", None),
        ({"AllowOrigins": ["*"]}, "https://b.example", "*"),
        ({"AllowOrigins": ["*"], "AllowCredentials": True}, "https://b", "https://b"),
        ({"AllowOrigins": ["*"]}, None, None),
        ({}, "https://a.example", None),
    ],
)
def test_origins_are_allowed_as_configured(settings, origin, allowed):
    assert cors.allowed_origin(settings, origin) == allowed


def test_configured_cors_headers_replace_the_functions():
    merged = cors.merge(
        [("access-control-allow-origin", "x"), ("x-own", "1")],
        [("access-control-allow-origin", "y")],
    )

    assert merged == [("x-own", "1"), ("access-control-allow-origin", "y")]


def test_a_streamed_prelude_gives_status_headers_and_cookies():
    status, headers = http_event.streamed_head(
        b'{"statusCode": 201, "headers": {"X-A": "1"}, "cookies": ["c=1", "d=2"]}'
    )

    assert status == 201
    assert headers == [
        ("x-a", "1"),
        ("content-type", "application/octet-stream"),
        ("set-cookie", "c=1"),
        ("set-cookie", "d=2"),
    ]


def test_an_empty_streamed_prelude_is_200():
    assert http_event.streamed_head(b"")[0] == 200


def test_a_streamed_prelude_that_is_not_an_object_is_invalid():
    with pytest.raises(InvalidResponseError):
        http_event.streamed_head(b"[1]")
