"""The AWS CLI works against lamina unmodified, with only an endpoint URL."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROLE, handler_zip, unique_name

AWS = str(Path(sys.executable).parent / "aws")


def aws(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    return subprocess.run(
        [AWS, "--endpoint-url", endpoint, "--output", "json", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_aws_cli_creates_waits_for_and_invokes_a_function(lamina_server, tmp_path):
    name = unique_name("awscli")
    package = tmp_path / "fn.zip"
    package.write_bytes(
        handler_zip("def handler(event, context):\n    return {'n': event['n'] * 2}\n")
    )

    created = aws(lamina_server.endpoint, "lambda", "create-function", "--function-name", name,
                  "--runtime", "python3.12", "--role", ROLE, "--handler", "handler.handler",
                  "--zip-file", f"fileb://{package}")  # fmt: skip
    waited = aws(
        lamina_server.endpoint, "lambda", "wait", "function-active-v2", "--function-name", name
    )
    out = tmp_path / "out.json"
    invoked = aws(lamina_server.endpoint, "lambda", "invoke", "--function-name", name,
                  "--payload", '{"n": 21}',
                  "--log-type", "Tail", str(out))  # fmt: skip

    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["State"] == "Pending"
    assert waited.returncode == 0, waited.stderr
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(out.read_text()) == {"n": 42}
    assert "REPORT RequestId" in base64.b64decode(json.loads(invoked.stdout)["LogResult"]).decode()


def test_aws_cli_shows_aws_errors(lamina_server):
    result = aws(lamina_server.endpoint, "lambda", "get-function", "--function-name", "absent-fn")

    assert result.returncode != 0
    assert "ResourceNotFoundException" in result.stderr
    assert (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:absent-fn"
        in result.stderr
    )
