"""SigV4 verification agrees with botocore's signer and refuses anything else."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lamina.api import sigv4

ACCOUNT = "000000000000"
KEYS = {"AKID": sigv4.Credential("AKID", "secret", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")}


def signed(
    url: str, body: bytes = b"", method: str = "POST", secret: str = "secret", **headers: str
):
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials("AKID", secret), "lambda", "us-east-1").add_auth(request)
    parts = urlsplit(url)
    pairs = [(k.lower(), v) for k, v in request.headers.items()] + [("host", parts.netloc)]
    return sigv4.SignedRequest(method, parts.path, parts.query, pairs, body)


@pytest.mark.parametrize(
    "url",
    [
        "http://h:1/2015-03-31/functions/fn/invocations",
        "http://h:1/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn/invocations?Qualifier=%24LATEST",
        "http://h:1/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn?tagKeys=b&tagKeys=a%20c",
        "http://h:1/2015-03-31/functions/?MaxItems=5&Marker=abc%3D%3D",
    ],
)
def test_requests_signed_by_botocore_verify(url):
    assert sigv4.verify(signed(url, b'{"x": 1}'), KEYS, "us-east-1", ["lambda"]).account == ACCOUNT


def test_a_changed_body_is_an_invalid_signature():
    request = signed("http://h:1/p", b"{}")
    tampered = sigv4.SignedRequest(request.method, request.raw_path, "", request.headers, b"{ }")

    with pytest.raises(sigv4.InvalidSignatureException, match="does not match"):
        sigv4.verify(tampered, KEYS, "us-east-1", ["lambda"])


def test_a_wrong_secret_is_an_invalid_signature():
    with pytest.raises(sigv4.InvalidSignatureException):
        sigv4.verify(signed("http://h:1/p", secret="other"), KEYS, "us-east-1", ["lambda"])


def test_an_unknown_key_is_an_unrecognized_client():
    with pytest.raises(sigv4.UnrecognizedClientException):
        sigv4.verify(signed("http://h:1/p"), {}, "us-east-1", ["lambda"])


def test_no_authorization_is_a_missing_token():
    with pytest.raises(sigv4.MissingAuthenticationTokenException):
        sigv4.verify(sigv4.SignedRequest("GET", "/", "", [], b""), KEYS, "us-east-1", ["lambda"])


def test_a_signature_older_than_five_minutes_has_expired():
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=6)

    with pytest.raises(sigv4.InvalidSignatureException, match="Signature expired"):
        sigv4.verify(signed("http://h:1/p"), KEYS, "us-east-1", ["lambda"], now=later)


def test_another_region_or_service_in_the_scope_is_refused():
    with pytest.raises(sigv4.InvalidSignatureException, match="region"):
        sigv4.verify(signed("http://h:1/p"), KEYS, "eu-west-1", ["lambda"])
    with pytest.raises(sigv4.InvalidSignatureException, match="service"):
        sigv4.verify(signed("http://h:1/p"), KEYS, "us-east-1", ["logs"])


def test_a_malformed_authorization_header_is_an_incomplete_signature():
    request = sigv4.SignedRequest("GET", "/", "", [("authorization", "AWS4-HMAC-SHA256 nope")], b"")

    with pytest.raises(sigv4.IncompleteSignatureException):
        sigv4.verify(request, KEYS, "us-east-1", ["lambda"])
