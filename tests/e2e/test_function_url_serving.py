"""Function URLs over real HTTP: the 2.0 event, result mapping, authorisation, CORS, errors."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from tests.conftest import (
    ROLE,
    MakeFunction,
    UrlResponse,
    call_url,
    client_for,
    handler_zip,
    signed_headers,
    wait_active,
)

ECHO = """
def handler(event, context):
    return {"event": event, "requestId": context.aws_request_id,
            "arn": context.invoked_function_arn}
"""
RETURNS_BODY = """
import json

def handler(event, context):
    return json.loads(event["body"])
"""
FAILS = "def handler(event, context):\n    raise ValueError('no')\n"
SLEEPS = "import time\n\ndef handler(event, context):\n    time.sleep(3)\n"
OTHER = "111122223333"


def public_url(client: Any, name: str, **settings: Any) -> str:
    """A URL with AuthType NONE and the policy statement that makes it public."""
    url = str(
        client.create_function_url_config(FunctionName=name, AuthType="NONE", **settings)[
            "FunctionUrl"
        ]
    )
    client.add_permission(
        FunctionName=name, StatementId="public-url", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    return url


@pytest.fixture
def echo_url(lambda_client, make_function: MakeFunction) -> str:
    return public_url(lambda_client, make_function(ECHO))


@pytest.fixture
def result_url(lambda_client, make_function: MakeFunction) -> str:
    """A URL whose function returns the JSON value the request's body holds."""
    return public_url(lambda_client, make_function(RETURNS_BODY))


def returning(url: str, value: Any) -> UrlResponse:
    return call_url(
        url, "/", "POST", json.dumps(value).encode(), {"Content-Type": "application/json"}
    )


# -- the event ---------------------------------------------------------------------------------


def test_the_event_has_payload_format_2(echo_url):
    answered = call_url(
        echo_url, "/some/path?a=1&b=x%20y&a=2", "POST", b'{"k": 1}',
        [("Content-Type", "application/json"), ("User-Agent", "tester/1"), ("X-Multi", "one"),
         ("X-Multi", "two"), ("Cookie", "c1=v1; c2=v2")],
    )  # fmt: skip

    event = answered.json()["event"]
    url_id = echo_url.split("//")[1].split(".")[0]
    assert answered.status == 200
    assert (event["version"], event["routeKey"]) == ("2.0", "$default")
    assert (event["rawPath"], event["rawQueryString"]) == ("/some/path", "a=1&b=x%20y&a=2")
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": 1}', False)
    assert "pathParameters" not in event
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST", "path": "/some/path", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "tester/1",
    }  # fmt: skip
    assert (context["apiId"], context["domainPrefix"]) == (url_id, url_id)
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert (context["accountId"], context["routeKey"], context["stage"]) == (
        "anonymous", "$default", "$default",
    )  # fmt: skip
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])
    assert abs(context["timeEpoch"] - time.time() * 1000) < 600_000
    assert "authorizer" not in context


def test_the_request_id_is_the_invocations(echo_url):
    answered = call_url(echo_url)

    doc = answered.json()
    assert answered.header("x-amzn-requestid") == doc["requestId"]
    assert doc["event"]["requestContext"]["requestId"] == doc["requestId"]
    assert str(answered.header("x-amzn-trace-id")).startswith("root=1-")


def test_the_path_form_reaches_the_same_function(echo_url):
    by_host = call_url(echo_url, "/a/b?q=1").json()["event"]
    by_path = call_url(echo_url, "/a/b?q=1", form="path").json()["event"]
    root = call_url(echo_url, "", form="path").json()["event"]

    assert (by_path["rawPath"], by_path["rawQueryString"]) == (
        by_host["rawPath"],
        by_host["rawQueryString"],
    )
    assert root["rawPath"] == "/"
    assert by_path["requestContext"]["apiId"] == by_host["requestContext"]["apiId"]


@pytest.mark.parametrize(
    ("content_type", "is_base64"),
    [
        ("application/octet-stream", True),
        ("application/x-www-form-urlencoded", True),
        ("text/plain; charset=utf-8", False),
        ("application/vnd.api+json", False),
    ],
)
def test_text_bodies_arrive_as_text_and_others_as_base64(echo_url, content_type, is_base64):
    body = b"a=1&b=\xc3\xa9"

    event = call_url(echo_url, "/", "POST", body, {"Content-Type": content_type}).json()["event"]

    assert event["isBase64Encoded"] is is_base64
    sent = base64.b64decode(event["body"]) if is_base64 else event["body"].encode()
    assert sent == body


def test_binary_that_is_not_utf8_is_base64_even_as_text(echo_url):
    event = call_url(echo_url, "/", "POST", b"\xff\xfe", {"Content-Type": "text/plain"}).json()[
        "event"
    ]

    assert (event["isBase64Encoded"], base64.b64decode(event["body"])) == (True, b"\xff\xfe")


def test_an_empty_body_is_absent(echo_url):
    event = call_url(echo_url).json()["event"]

    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event and "cookies" not in event


# -- the result --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "body"),
    [
        ({"hello": "world"}, b'{"hello":"world"}'),
        (["hello", 3, True], b'["hello",3,true]'),
        ("hello", b"hello"),
        (3, b"3"),
        (3.1, b"3.1"),
        (True, b"true"),
        (None, b"null"),
        ({"statusCode": 200, "body": "body123"}, b"body123"),
    ],
)
def test_a_bare_value_is_sent_as_json_with_status_200(result_url, value, body):
    answered = returning(result_url, value)

    assert (answered.status, answered.body) == (200, body)
    assert answered.header("content-type") == "application/json"


def test_a_response_object_sets_status_headers_and_body(result_url):
    answered = returning(
        result_url,
        {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Custom": "v", "X-N": 7},
         "body": "made"},
    )  # fmt: skip

    assert (answered.status, answered.body) == (201, b"made")
    assert answered.all("content-type") == ["text/plain"]
    assert (answered.header("x-custom"), answered.header("x-n")) == ("v", "7")


def test_a_string_status_code_works(result_url):
    answered = returning(result_url, {"statusCode": "418", "body": "i'm a teapot"})

    assert (answered.status, answered.body) == (418, b"i'm a teapot")


def test_cookies_become_set_cookie_headers(result_url):
    cookies = ["a=1; Max-Age=60", "b=2; Path=/"]

    answered = returning(result_url, {"statusCode": 200, "cookies": cookies, "body": ""})

    assert answered.all("set-cookie") == cookies


def test_a_base64_body_is_decoded(result_url):
    payload = bytes(range(256))

    answered = returning(
        result_url,
        {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
         "body": base64.b64encode(payload).decode(), "isBase64Encoded": True},
    )  # fmt: skip

    assert answered.body == payload


def test_a_result_that_is_not_a_response_is_502(result_url):
    answered = returning(result_url, {"statusCode": "not a number"})

    assert (answered.status, answered.body) == (502, b"Internal Server Error")


def test_a_function_error_is_502(lambda_client, make_function):
    url = public_url(lambda_client, make_function(FAILS))

    answered = call_url(url)

    assert (answered.status, answered.body) == (502, b"Internal Server Error")


def test_a_timeout_is_502(lambda_client, make_function):
    url = public_url(lambda_client, make_function(SLEEPS, Timeout=1))

    answered = call_url(url)

    assert (answered.status, answered.body) == (502, b"Internal Server Error")


def test_a_throttled_function_is_429(lambda_client, make_function):
    name = make_function(ECHO)
    url = public_url(lambda_client, name)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)

    answered = call_url(url)

    assert answered.status == 429
    assert answered.header("x-amzn-errortype") == "TooManyRequestsException"
    assert answered.json() == {"Message": "Rate Exceeded."}


def test_a_body_over_6_mb_is_413(echo_url):
    answered = call_url(echo_url, "/", "POST", b"x" * (6 * 1024 * 1024 + 1))

    assert answered.status == 413


# -- which URL, which function -----------------------------------------------------------------


@pytest.mark.parametrize("form", ["host", "path"])
def test_an_unknown_url_is_403_with_a_null_message(lamina_server, form):
    unknown = f"http://{'0' * 32}.lambda-url.us-east-1.localhost:{lamina_server.port}/"

    answered = call_url(unknown, form=form)

    assert (answered.status, answered.body) == (403, b'{"Message":null}')
    assert answered.header("x-amzn-errortype") == "AccessDeniedException"


def test_a_url_id_under_another_region_is_unknown(echo_url):
    elsewhere = echo_url.replace(".us-east-1.", ".eu-west-1.")

    answered = call_url(elsewhere)

    assert (answered.status, answered.body) == (403, b'{"Message":null}')


def test_a_deleted_functions_url_stops_answering(lambda_client, make_function):
    name = make_function(ECHO)
    url = public_url(lambda_client, name)

    lambda_client.delete_function(FunctionName=name)

    assert call_url(url).status == 403


def test_an_alias_url_runs_the_aliass_version(lambda_client, make_function):
    name = make_function(ECHO)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    url = str(lambda_client.create_function_url_config(
        FunctionName=name, Qualifier="live", AuthType="NONE"
    )["FunctionUrl"])  # fmt: skip
    lambda_client.add_permission(
        FunctionName=name, Qualifier="live", StatementId="public-url",
        Action="lambda:InvokeFunctionUrl", Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip

    answered = call_url(url)

    assert answered.json()["arn"].endswith(f":function:{name}:live")


# -- authorisation -----------------------------------------------------------------------------

FORBIDDEN = {
    "Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
}


@pytest.mark.parametrize(
    "statement",
    [
        None,
        {"Action": "lambda:InvokeFunction", "Principal": "*"},
        {"Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "AWS_IAM"},
        {"Action": "lambda:InvokeFunctionUrl", "Principal": OTHER, "FunctionUrlAuthType": "NONE"},
    ],
)
def test_a_public_url_needs_a_policy_granting_everyone(lambda_client, make_function, statement):
    name = make_function(ECHO)
    url = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")[
        "FunctionUrl"
    ]
    if statement is not None:
        lambda_client.add_permission(FunctionName=name, StatementId="s", **statement)

    answered = call_url(url)

    assert (answered.status, answered.json()) == (403, FORBIDDEN)
    assert answered.header("x-amzn-errortype") == "AccessDeniedException"


def iam_url(client: Any, make_function: MakeFunction, **kwargs: Any) -> str:
    name = make_function(ECHO, **kwargs)
    return str(
        client.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    )


def signed_call(
    url: str, key: tuple[str, str] = ("test", "test"), form: str = "host"
) -> UrlResponse:
    host = url.split("//")[1].rstrip("/")
    port = host.rsplit(":", 1)[1]
    endpoint = f"http://{host}" if form == "host" else f"http://127.0.0.1:{port}"
    path = "/signed?x=1" if form == "host" else f"/_lamina/urls/{host.split('.')[0]}/signed?x=1"
    headers = signed_headers(endpoint, "GET", path, key=key)
    return call_url(url, "/signed?x=1", headers=headers, form=form)


@pytest.mark.parametrize("form", ["host", "path"])
def test_an_iam_url_serves_a_signed_request_with_the_callers_identity(
    lambda_client, make_function, form
):
    url = iam_url(lambda_client, make_function)

    answered = signed_call(url, form=form)

    context = answered.json()["event"]["requestContext"]
    assert answered.status == 200
    assert context["accountId"] == "000000000000"
    assert context["authorizer"]["iam"]["accessKey"] == "test"
    assert context["authorizer"]["iam"]["userArn"] == "arn:aws:iam::000000000000:root"
    assert answered.json()["event"]["headers"]["authorization"].startswith("AWS4-HMAC-SHA256")


def test_an_iam_url_refuses_an_unsigned_request(lambda_client, make_function):
    url = iam_url(lambda_client, make_function)

    answered = call_url(url)

    assert (answered.status, answered.json()) == (403, {"Message": "Forbidden"})


def test_an_iam_url_refuses_a_wrong_signature(lambda_client, make_function):
    url = iam_url(lambda_client, make_function)

    answered = signed_call(url, key=("test", "wrong"))

    assert answered.status == 403
    assert answered.header("x-amzn-errortype") == "InvalidSignatureException"


def test_another_account_needs_a_policy_for_an_iam_url(start_server):
    server = start_server("--credentials", f"test:test,other:secret:{OTHER}")
    client = client_for(server.endpoint)
    client.create_function(
        FunctionName="shared", Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(ECHO)},
    )  # fmt: skip
    wait_active(client, "shared")
    url = client.create_function_url_config(FunctionName="shared", AuthType="AWS_IAM")[
        "FunctionUrl"
    ]
    refused = signed_call(url, key=("other", "secret"))
    client.add_permission(
        FunctionName="shared", StatementId="other", Action="lambda:InvokeFunctionUrl",
        Principal=OTHER, FunctionUrlAuthType="AWS_IAM",
    )  # fmt: skip

    allowed = signed_call(url, key=("other", "secret"))

    assert (refused.status, refused.json()) == (403, FORBIDDEN)
    assert allowed.status == 200
    assert allowed.json()["event"]["requestContext"]["accountId"] == OTHER


# -- CORS --------------------------------------------------------------------------------------

CORS = {
    "AllowOrigins": ["https://app.example"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["authorization", "content-type"],
    "ExposeHeaders": ["x-custom"],
    "AllowCredentials": True,
    "MaxAge": 300,
}
PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}


def test_a_preflight_is_answered_without_invoking_the_function(lambda_client, make_function):
    url = public_url(lambda_client, make_function(FAILS), Cors=CORS)

    answered = call_url(url, "/", "OPTIONS", headers=PREFLIGHT)

    assert (answered.status, answered.body) == (200, b"")
    assert answered.header("access-control-allow-origin") == "https://app.example"
    assert answered.header("access-control-allow-methods") == "GET,POST"
    assert answered.header("access-control-allow-headers") == "authorization,content-type"
    assert answered.header("access-control-allow-credentials") == "true"
    assert answered.header("access-control-max-age") == "300"
    assert answered.header("vary") == "Origin"


def test_a_preflight_from_another_origin_gets_no_permission(lambda_client, make_function):
    url = public_url(lambda_client, make_function(FAILS), Cors=CORS)

    answered = call_url(
        url, "/", "OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )  # fmt: skip

    assert answered.status == 200
    assert answered.header("access-control-allow-origin") is None


def test_responses_carry_the_configured_cors_headers(lambda_client, make_function):
    source = (
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': 'ok', 'headers': "
        "{'Access-Control-Allow-Origin': 'https://other.example'}}\n"
    )
    url = public_url(lambda_client, make_function(source), Cors=CORS)

    answered = call_url(url, headers={"Origin": "https://APP.example"})

    assert answered.all("access-control-allow-origin") == ["https://APP.example"]
    assert answered.header("access-control-allow-credentials") == "true"
    assert answered.header("access-control-expose-headers") == "x-custom"
    assert answered.body == b"ok"


def test_a_wildcard_origin_answers_a_star(lambda_client, make_function):
    url = public_url(lambda_client, make_function(ECHO), Cors={"AllowOrigins": ["*"]})

    answered = call_url(url, headers={"Origin": "https://anyone.example"})

    assert answered.header("access-control-allow-origin") == "*"


def test_without_cors_settings_options_reaches_the_function(echo_url):
    answered = call_url(echo_url, "/", "OPTIONS", headers=PREFLIGHT)

    assert answered.json()["event"]["requestContext"]["http"]["method"] == "OPTIONS"
    assert answered.header("access-control-allow-origin") is None
