"""The ``lamina`` command as a client of a running server: deploy, invoke, ls, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import unique_name


def lamina(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lamina", *args, "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _project(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text(body)
    return folder


def test_deploy_then_invoke_prints_the_result(lamina_server, tmp_path):
    name = unique_name("cli")
    folder = _project(tmp_path, "def main(event, context):\n    return {'got': event}\n")

    deployed = lamina(lamina_server.endpoint, "deploy", str(folder), "--name", name,
                      "--handler", "app.main", "--runtime", "python3.12")  # fmt: skip
    invoked = lamina(lamina_server.endpoint, "invoke", name, '{"x": 1}')

    assert deployed.returncode == 0, deployed.stderr
    assert f"function:{name}" in deployed.stdout
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"got": {"x": 1}}


def test_deploy_again_updates_code_and_settings(lamina_server, tmp_path):
    name = unique_name("cli")
    folder = _project(tmp_path, "def main(e, c):\n    return 1\n")
    lamina(lamina_server.endpoint, "deploy", str(folder), "--name", name, "--handler", "app.main")
    (folder / "app.py").write_text("import os\ndef main(e, c):\n    return os.environ['MODE']\n")

    redeployed = lamina(lamina_server.endpoint, "deploy", str(folder), "--name", name,
                        "--handler", "app.main", "--env", "MODE=second")  # fmt: skip
    invoked = lamina(lamina_server.endpoint, "invoke", name)

    assert "updated" in redeployed.stdout, redeployed.stderr
    assert json.loads(invoked.stdout) == "second"


def test_invoke_of_a_failing_function_exits_non_zero_and_shows_the_error(lamina_server, tmp_path):
    name = unique_name("cli")
    folder = _project(tmp_path, "def main(e, c):\n    raise KeyError('missing')\n")
    lamina(lamina_server.endpoint, "deploy", str(folder), "--name", name, "--handler", "app.main")

    invoked = lamina(lamina_server.endpoint, "invoke", name, "--log")

    assert invoked.returncode == 1
    assert json.loads(invoked.stdout)["errorType"] == "KeyError"
    assert "[ERROR] KeyError" in invoked.stderr


def test_ls_lists_deployed_functions(lamina_server, tmp_path):
    name = unique_name("cli")
    folder = _project(tmp_path, "def main(e, c):\n    return 1\n")
    lamina(lamina_server.endpoint, "deploy", str(folder), "--name", name, "--handler", "app.main")

    listed = lamina(lamina_server.endpoint, "ls")

    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(name))
    assert "python3.12" in row


def test_logs_prints_the_function_output(lamina_server, tmp_path):
    name = unique_name("cli")
    folder = _project(tmp_path, "def main(e, c):\n    print('marker-line')\n")
    lamina(lamina_server.endpoint, "deploy", str(folder), "--name", name, "--handler", "app.main")
    lamina(lamina_server.endpoint, "invoke", name)

    logs = lamina(lamina_server.endpoint, "logs", name)

    assert logs.returncode == 0
    assert "marker-line" in logs.stdout
    assert "REPORT RequestId:" in logs.stdout


def test_commands_explain_an_unreachable_server(tmp_path):
    result = lamina("http://127.0.0.1:9", "ls")

    assert result.returncode == 1
    assert "no lamina server answers" in result.stderr


def test_deploy_reports_aws_errors_in_one_line(lamina_server, tmp_path):
    folder = _project(tmp_path, "def main(e, c):\n    return 1\n")

    result = lamina(lamina_server.endpoint, "deploy", str(folder), "--name", unique_name(),
                    "--runtime", "python2.99")  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.startswith("lamina: InvalidParameterValueException")


def test_serve_refuses_bad_settings(tmp_path):
    env = {**os.environ, "LAMINA_ACCOUNT_ID": "12"}
    result = subprocess.run(
        [sys.executable, "-m", "lamina", "serve", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip

    assert result.returncode == 2
    assert "account id" in result.stderr
