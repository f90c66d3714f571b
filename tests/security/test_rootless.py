"""The namespace sandbox run by an ordinary user (rootless mode, user namespaces).

A real ``lamina serve`` is started as ``nobody`` (see ``rootless.py``): functions deploy and
run, the hostile attempts that matter end safely, and start-up says which limits go
unenforced without cgroups, or refuses to start without them unless told otherwise; with a
cgroup subtree given to its user (``--cgroup-parent``), limits hold as in root mode; on a host
without user namespaces it refuses, and says why.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    FUNCTIONS_DIR,
    ROLE,
    client_for,
    handler_zip,
    invoke,
    processes_with,
    tail,
    unique_name,
    wait_active,
    zip_files,
)
from tests.security.rootless import (
    RootlessServer,
    Workspace,
    delegated_v1_cgroup,
    has_v1_cgroups,
    rootless_workspace,
)
from tests.security.rootless import without_user_namespaces as no_userns_argv

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starts servers as another user")

RUNTIME = "python3.11"
"""A runtime whose interpreter ``nobody`` can run here (pyenv's are under /root)."""


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    with rootless_workspace() as made:
        yield made


@pytest.fixture(scope="module")
def server(workspace: Workspace) -> Iterator[RootlessServer]:
    running = workspace.server("--cgroups", "optional")
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: RootlessServer) -> Any:
    return client_for(server.endpoint)


def deploy(client: Any, source: str, runtime: str = RUNTIME, **settings: Any) -> str:
    name = unique_name("rootless")
    handler = settings.pop("Handler", "handler.handler")
    package = settings.pop("zip_bytes", None) or handler_zip(source)
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                           Code={"ZipFile": package}, **settings)  # fmt: skip
    wait_active(client, name)
    return name


@pytest.fixture(scope="module")
def hostile(client: Any) -> str:
    return deploy(client, (FUNCTIONS_DIR / "hostile.py").read_text())


def attempt(client: Any, name: str, what: str, **event: Any) -> Any:
    return invoke(client, name, {"attempt": what, **event})[1]


def test_a_python_function_deploys_and_runs_as_the_sandbox_user(client):
    name = deploy(client, "def handler(event, context):\n    return {'hello': event['who']}\n")

    response, body = invoke(client, name, {"who": "rootless"})

    assert body == {"hello": "rootless"}
    assert "FunctionError" not in response


def test_the_function_runs_unprivileged_and_sees_only_its_own_processes(client, hostile):
    seen = attempt(client, hostile, "whoami")

    assert seen["uid"] == 993
    assert seen["capabilities"] == ["0000000000000000"]
    assert set(seen["processes"]) <= {1, 2}


def test_a_node_function_runs_through_the_jailer(client, server):
    if "nodejs20.x" not in server.log():
        pytest.skip("no Node.js 20 that nobody may run on this host")
    source = "exports.handler = async () => ({uid: process.getuid(), pid: process.pid});\n"
    name = deploy(client, "", runtime="nodejs20.x", Handler="index.handler",
                  zip_bytes=zip_files({"index.js": source}))  # fmt: skip

    _, body = invoke(client, name, {})

    assert body == {"uid": 993, "pid": 2}


BOOTSTRAP = """#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
    body = json.dumps({"uid": os.getuid(), "pid": os.getpid()}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body))
"""


def test_a_custom_runtime_is_served_the_runtime_api(client):
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        entry = zipfile.ZipInfo("bootstrap")
        entry.external_attr = 0o100755 << 16
        archive.writestr(entry, BOOTSTRAP)
    name = deploy(client, "", runtime="provided.al2023", zip_bytes=package.getvalue())

    _, body = invoke(client, name, {})

    assert body["uid"] == 993


def test_the_servers_data_and_other_functions_code_are_out_of_reach(client, server, hostile):
    other = deploy(client, "SECRET = 's3cr3t'\ndef handler(e, c):\n    return 1\n")
    assert invoke(client, other, {})[1] == 1
    data = server.data_dir
    paths = [data / "lamina.db", data / "secret.key", data / "keys" / "env.key",
             *[p / "handler.py" for p in (data / "code" / "tree").iterdir()]]  # fmt: skip

    outcomes = {str(p): attempt(client, hostile, "read_file", path=str(p)) for p in paths}

    assert all("errno" in outcome for outcome in outcomes.values()), outcomes


@pytest.mark.parametrize("path", ["/proc/1/environ", "/proc/1/mem", "/proc/kcore", "/etc/shadow"])
def test_host_and_init_files_are_out_of_reach(client, hostile, path):
    assert "errno" in attempt(client, hostile, "read_file", path=path)


@pytest.mark.parametrize("path", ["/var/task/evil.py", "/etc/evil", "/usr/evil", "/evil"])
def test_nothing_outside_tmp_is_writable(client, hostile, path):
    outcome = attempt(client, hostile, "write_file", path=path)

    assert outcome.get("errno") in ("EROFS", "EACCES", "EPERM"), outcome


@pytest.mark.parametrize("what", ["user_namespace", "mount", "ptrace", "raw_socket"])
def test_privileged_operations_are_refused(client, hostile, what):
    assert attempt(client, hostile, what) == {"errno": "EPERM"}


def test_killing_every_visible_process_harms_nothing_outside(client, server, hostile):
    bystander = deploy(client, "def handler(event, context):\n    return 'fine'\n")

    body = attempt(client, hostile, "kill_everything")

    assert body.get("errorType") == "ProcessLookupError", body
    assert invoke(client, bystander, {})[1] == "fine"


def test_a_fork_bomb_hits_the_process_limit_without_cgroups(client):
    name = deploy(client, (FUNCTIONS_DIR / "hostile.py").read_text(), MemorySize=1024, Timeout=30)

    outcome = attempt(client, name, "fork_bomb")

    assert outcome.get("stopped_at", 5000) < 1024, outcome


def test_daemons_die_with_their_environment(client):
    name = deploy(client, (FUNCTIONS_DIR / "hostile.py").read_text())
    marker = f"300.{time.time_ns()}"
    assert attempt(client, name, "daemon", marker=marker) == "daemon started"
    _wait_for(lambda: processes_with(marker))

    client.delete_function(FunctionName=name)

    _wait_for(lambda: not processes_with(marker))


def _wait_for(condition: Callable[[], Any], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_max_memory_used_is_reported_without_a_memory_cgroup(client):
    name = deploy(client, "def handler(event, context):\n    return len(bytearray(30 << 20))\n")

    response, _ = invoke(client, name, {}, LogType="Tail")

    used = re.search(r"Max Memory Used: (\d+) MB", tail(response))
    assert used is not None and int(used.group(1)) >= 30


def test_ignoring_sigterm_does_not_outlive_the_timeout(client):
    name = deploy(client, (FUNCTIONS_DIR / "hostile.py").read_text(), Timeout=1)

    body = attempt(client, name, "ignore_sigterm_and_spin")

    assert body["errorType"] == "Sandbox.Timedout"
    assert attempt(client, name, "whoami")["uid"] == 993  # a new environment serves


def test_start_up_names_the_limits_it_does_not_enforce(server):
    log = server.log()

    assert "rootless: lamina runs as uid" in log
    assert "these limits are not enforced" in log
    for limit in ("memory: MemorySize is not a limit", "CPU:", "freezer:"):
        assert limit in log


def test_without_cgroups_it_refuses_to_start_unless_told(workspace):
    argv = workspace.serve_argv(workspace.home / "refused", 1, "--log-level", "warning")

    result = workspace.run_as_user(argv)

    said = result.stderr.decode()
    assert result.returncode == 2, said
    assert "cannot give environments cgroups" in said
    for part in ("memory:", "CPU:", "freezer:", "--cgroups optional", "--cgroup-parent"):
        assert part in said


def test_without_user_namespaces_it_refuses_and_says_why(workspace):
    argv = workspace.serve_argv(workspace.home / "no-userns", 1, "--cgroups", "optional")

    result = subprocess.run(no_userns_argv(workspace, argv), env=workspace.env(),
                            capture_output=True, timeout=60)  # fmt: skip

    said = result.stderr.decode()
    assert result.returncode == 2, said
    assert "needs a user namespace of its own, but it cannot create one" in said
    assert "user.max_user_namespaces is 0" in said
    assert "--sandbox process" in said


def test_in_a_container_with_a_masked_proc_it_refuses_and_says_why(workspace):
    """Container runtimes mount over parts of /proc; a user namespace then may not mount a
    /proc of its own. Here a private mount namespace masks one file, as Docker does."""
    masked = next(p for p in ("/proc/timer_list", "/proc/keys", "/proc/kcore") if Path(p).exists())
    argv = workspace.as_user(workspace.serve_argv(workspace.home / "masked", 1, "--cgroups",
                                                  "optional"))  # fmt: skip
    script = f'mount --bind /dev/null {masked} && exec "$@"'

    result = subprocess.run(["unshare", "--mount", "--propagation", "private",
                             "sh", "-c", script, "sh", *argv],
                            env=workspace.env(), capture_output=True, timeout=60)  # fmt: skip

    said = result.stderr.decode()
    assert result.returncode == 2, said
    assert f"the host's /proc has paths mounted over it ({masked})" in said


@pytest.fixture
def delegated_cgroup(workspace: Workspace) -> Iterator[str]:
    if not has_v1_cgroups():
        pytest.skip("this host has no cgroup v1 memory, cpu, pids and freezer hierarchies")
    with delegated_v1_cgroup(workspace) as parent:
        yield parent


def test_with_a_delegated_cgroup_memory_is_limited(workspace, delegated_cgroup):
    running = workspace.server("--cgroup-parent", delegated_cgroup, name="delegated")
    running.start()
    try:
        client = client_for(running.endpoint)
        name = deploy(client, (FUNCTIONS_DIR / "hostile.py").read_text(), MemorySize=128)

        _, body = invoke(client, name, {"attempt": "memory_bomb"})

        assert body["errorType"] == "Runtime.OutOfMemory"
        assert "not enforced" not in running.log()
    finally:
        running.stop()
