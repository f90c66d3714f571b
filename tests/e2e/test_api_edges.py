"""Requests outside the implemented API get clear, AWS-shaped answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.conftest import signed_headers


def test_an_operation_lamina_lacks_is_named_in_a_not_implemented_error(lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.list_event_source_mappings()

    assert raised.value.response["Error"]["Code"] == "NotImplementedException"
    assert "ListEventSourceMappings" in raised.value.response["Error"]["Message"]


def test_a_path_outside_the_api_is_an_unknown_operation(lamina_server):
    path = "/2015-03-31/nothing-here"
    request = urllib.request.Request(
        lamina_server.endpoint + path,
        headers=signed_headers(lamina_server.endpoint, "GET", path),
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    raised.value.close()

    assert raised.value.code == 404
    assert raised.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert raised.value.headers["x-amzn-RequestId"]


def test_health_endpoint_answers_when_ready(lamina_server):
    with urllib.request.urlopen(f"{lamina_server.endpoint}/_lamina/health", timeout=5) as response:
        assert json.loads(response.read()) == {"status": "ok"}
