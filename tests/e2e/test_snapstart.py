"""SnapStart for Python versions, end to end: the API, the snapshot made at publish, restored
environments, the runtime hooks, the log lines and the failure paths.

AWS facts: the SnapStart API shapes and errors (botocore's model; LocalStack's recordings for
"<runtime> is not supported for SnapStart enabled functions."), the hook order and REPORT
fields (AWS's SnapStart documentation: before-snapshot hooks in reverse order of registration,
after-restore hooks in order; ``Restore Duration`` and ``Billed Restore Duration`` on the first
REPORT of a restored environment, no ``Init Duration``).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ROLE,
    MakeFunction,
    client_for,
    handler_zip,
    invoke,
    processes_with,
    tail,
    wait_active,
    zip_files,
)

pytestmark = pytest.mark.skipif(
    os.environ.get("LAMINA_SANDBOX") == "process",
    reason="the process backend was chosen explicitly: it does not restore from snapshots",
)

SNAP = {"ApplyOn": "PublishedVersions"}

RESTORABLE = """
import os, random, subprocess, time, uuid
from snapshot_restore_py import register_after_restore, register_before_snapshot

INIT_ID = uuid.uuid4().hex
ORDER = []
if os.environ.get("MARKER"):
    subprocess.Popen(["sleep", os.environ["MARKER"]])

@register_before_snapshot
def first_before():
    ORDER.append("before-1")
    print("before-snapshot hook ran")

def second_before(label, *, suffix):
    ORDER.append(label + suffix)

register_before_snapshot(second_before, "before-2", suffix="!")

@register_after_restore
def first_after():
    ORDER.append("after-1")

register_after_restore(lambda what: ORDER.append(what), "after-2")

def handler(event, context):
    if event.get("allocate_mb"):
        hog = [bytearray(1 << 20) for _ in range(event["allocate_mb"])]
        return len(hog)
    time.sleep(event.get("sleep", 0))
    return {
        "init_id": INIT_ID,
        "order": ORDER,
        "random": random.random(),
        "pid": os.getpid(),
        "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "stream_variable": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
"""


def publish(client: Any, name: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Publish and wait until the version left Pending; its final configuration."""
    return publish_wait(
        client, name, client.publish_version(FunctionName=name)["Version"], timeout_s
    )


def log_streams(logs_client: Any, name: str) -> dict[str, list[str]]:
    """Every log stream of the function: its messages in order."""
    streams: dict[str, list[str]] = {}
    events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    for event in events:
        streams.setdefault(event["logStreamName"], []).append(event["message"])
    return streams


def wait_for(condition: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


# -- the API -------------------------------------------------------------------------------------


def test_snap_start_is_reported_on_latest_and_on_versions(lambda_client, make_function):
    name = make_function(RESTORABLE, SnapStart=SNAP)

    latest = lambda_client.get_function_configuration(FunctionName=name)
    version = publish(lambda_client, name)

    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert version["State"] == "Active"
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}


def test_a_version_is_pending_while_its_snapshot_is_made(lambda_client, make_function):
    name = make_function("import time\ntime.sleep(1.5)\ndef handler(e, c):\n    return 1\n",
                         SnapStart=SNAP)  # fmt: skip

    published = lambda_client.publish_version(FunctionName=name)
    with pytest.raises(lambda_client.exceptions.SnapStartNotReadyException) as raised:
        lambda_client.invoke(FunctionName=name, Qualifier=published["Version"])
    final = publish(lambda_client, name)

    assert published["State"] == "Pending"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "Lambda is initializing your function" in str(raised.value)
    assert final["Version"] == published["Version"]
    assert final["State"] == "Active"


def test_turning_snap_start_off_publishes_versions_without_it(lambda_client, make_function):
    name = make_function(RESTORABLE, SnapStart=SNAP)
    lambda_client.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)

    version = publish(lambda_client, name)
    _, body = invoke(lambda_client, name, {}, Qualifier=version["Version"])

    assert version["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert body["initialization_type"] == "on-demand"


def test_snap_start_on_an_unsupported_runtime_is_refused(lambda_client, make_function):
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as raised:
        make_function(RESTORABLE, runtime="python3.11", SnapStart=SNAP)
    old = make_function(RESTORABLE, runtime="python3.11")
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as updating:
        lambda_client.update_function_configuration(FunctionName=old, SnapStart=SNAP)

    message = "python3.11 is not supported for SnapStart enabled functions."
    assert raised.value.response["Error"]["Message"] == message
    assert updating.value.response["Error"]["Message"] == message
    config = lambda_client.get_function_configuration(FunctionName=old)
    assert config["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}


def test_an_unknown_apply_on_is_a_validation_error(raw_lambda_client, make_function):
    name = make_function(RESTORABLE)

    with pytest.raises(raw_lambda_client.exceptions.ClientError) as raised:
        raw_lambda_client.update_function_configuration(
            FunctionName=name, SnapStart={"ApplyOn": "Always"}
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "snapStart.applyOn" in raised.value.response["Error"]["Message"]


# -- restored environments -----------------------------------------------------------------------


def test_restored_environments_share_the_init_and_differ_in_randomness(
    lambda_client, make_function
):
    name = make_function(RESTORABLE, SnapStart=SNAP, Timeout=10)
    version = publish(lambda_client, name)["Version"]

    with ThreadPoolExecutor(2) as pool:  # two at once: two environments
        calls = [pool.submit(invoke, lambda_client, name, {"sleep": 1}, Qualifier=version)
                 for _ in range(2)]  # fmt: skip
        first, second = (call.result()[1] for call in calls)

    assert first["pid"] != second["pid"]
    assert first["init_id"] == second["init_id"]  # the module's init ran once, at publish
    assert first["random"] != second["random"]
    assert first["initialization_type"] == "snap-start"
    assert first["stream_variable"] is None  # AWS leaves it out in SnapStart functions


def test_hooks_run_in_aws_order_with_their_arguments(lambda_client, make_function):
    name = make_function(RESTORABLE, SnapStart=SNAP)
    version = publish(lambda_client, name)["Version"]

    _, body = invoke(lambda_client, name, {}, Qualifier=version)

    # Before the snapshot: reverse order of registration; after restore: in order.
    assert body["order"] == ["before-2!", "before-1", "after-1", "after-2"]


def test_logs_show_the_init_at_publish_and_the_restore_at_the_first_invocation(
    lambda_client, logs_client, make_function
):
    name = make_function(RESTORABLE, SnapStart=SNAP)
    version = publish(lambda_client, name)["Version"]

    invoke(lambda_client, name, {}, Qualifier=version)
    invoke(lambda_client, name, {}, Qualifier=version)

    streams = log_streams(logs_client, name)
    template = next(m for m in streams.values() if m[0].startswith("INIT_START"))
    restored = next(m for m in streams.values() if m[0].startswith("RESTORE_START"))
    assert "before-snapshot hook ran" in template
    assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d\d ms", template[-1])
    assert re.fullmatch(r"RESTORE_REPORT Restore Duration: \d+\.\d\d ms", restored[1])
    reports = [m for m in restored if m.startswith("REPORT")]
    first = dict(field.split(": ", 1) for field in reports[0].split("\t")[1:] if field)
    assert "Init Duration" not in first
    assert first["Restore Duration"].endswith(" ms")
    billed_restore = int(first["Billed Restore Duration"].removesuffix(" ms"))
    duration = float(first["Duration"].removesuffix(" ms"))
    assert int(first["Billed Duration"].removesuffix(" ms")) == math.ceil(duration) + billed_restore
    assert "Restore Duration" not in reports[1]


def test_latest_is_unaffected_by_snap_start(lambda_client, logs_client, make_function):
    name = make_function(RESTORABLE, SnapStart=SNAP)

    response, body = invoke(lambda_client, name, {}, LogType="Tail")

    assert body["initialization_type"] == "on-demand"
    assert body["order"] == []  # no snapshot, no hooks
    assert body["stream_variable"] is not None
    report = next(line for line in tail(response).splitlines() if line.startswith("REPORT"))
    assert "Init Duration" in report
    assert "Restore Duration" not in report
    streams = log_streams(logs_client, name)
    assert all(not m[0].startswith("RESTORE_START") for m in streams.values())


# -- failures ------------------------------------------------------------------------------------


def test_a_failing_init_makes_the_version_failed(lambda_client, make_function):
    name = make_function("raise RuntimeError('no config')\ndef handler(e, c):\n    return 1\n",
                         SnapStart=SNAP)  # fmt: skip

    version = publish(lambda_client, name)
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.invoke(FunctionName=name, Qualifier=version["Version"])

    assert version["State"] == "Failed"
    assert version["StateReasonCode"] == "FunctionError"
    assert "RuntimeError" in version["StateReason"]


def test_a_failing_before_snapshot_hook_makes_the_version_failed(lambda_client, make_function):
    source = (
        "from snapshot_restore_py import register_before_snapshot\n"
        "register_before_snapshot(lambda: 1 / 0)\n"
        "def handler(e, c):\n    return 1\n"
    )
    name = make_function(source, SnapStart=SNAP)

    version = publish(lambda_client, name)

    assert version["State"] == "Failed"
    assert "Runtime.BeforeSnapshotError" in version["StateReason"]


def test_a_failing_after_restore_hook_is_a_snap_start_exception(
    lambda_client, logs_client, make_function
):
    source = (
        "from snapshot_restore_py import register_after_restore\n"
        "@register_after_restore\n"
        "def reconnect():\n    raise ConnectionError('database unreachable')\n"
        "def handler(e, c):\n    return 1\n"
    )
    name = make_function(source, SnapStart=SNAP)
    version = publish(lambda_client, name)["Version"]

    with pytest.raises(lambda_client.exceptions.SnapStartException) as raised:
        lambda_client.invoke(FunctionName=name, Qualifier=version)

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    lines = [line for m in log_streams(logs_client, name).values() for line in m]
    assert any("database unreachable" in line for line in lines)
    assert any(
        line.startswith("RESTORE_REPORT")
        and line.endswith("Status: error\tError Type: Runtime.AfterRestoreError")
        for line in lines
    )


def test_a_restored_environment_out_of_memory_or_timed_out_spares_the_template_and_siblings(
    lambda_client, make_function
):
    name = make_function(RESTORABLE, SnapStart=SNAP, MemorySize=128, Timeout=3)
    version = publish(lambda_client, name)["Version"]
    _, before = invoke(lambda_client, name, {}, Qualifier=version)

    _, oom = invoke(lambda_client, name, {"allocate_mb": 400}, Qualifier=version)
    _, timed_out = invoke(lambda_client, name, {"sleep": 4}, Qualifier=version)
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(invoke, lambda_client, name, {"sleep": 0.3}, Qualifier=version)
                 for _ in range(2)]  # fmt: skip
        after = [call.result()[1] for call in calls]

    assert oom["errorType"] == "Runtime.OutOfMemory"
    assert timed_out["errorType"] == "Sandbox.Timedout"
    # Same init: the template was not touched (a new one would run the init again).
    assert [body["init_id"] for body in after] == [before["init_id"]] * 2


def test_deleting_the_version_ends_its_template(lambda_client, make_function: MakeFunction):
    marker = f"300.{time.time_ns()}"
    name = make_function(RESTORABLE, SnapStart=SNAP, Environment={"Variables": {"MARKER": marker}})
    version = publish(lambda_client, name)["Version"]
    invoke(lambda_client, name, {}, Qualifier=version)
    assert processes_with(marker)  # started by the template's init

    lambda_client.delete_function(FunctionName=name, Qualifier=version)

    assert wait_for(lambda: not processes_with(marker))


def test_a_template_that_died_is_made_again(lambda_client, make_function: MakeFunction):
    marker = f"300.{time.time_ns()}"
    name = make_function(RESTORABLE, SnapStart=SNAP, Environment={"Variables": {"MARKER": marker}})
    version = publish(lambda_client, name)["Version"]
    _, before = invoke(lambda_client, name, {}, Qualifier=version)
    [sleeper] = processes_with(marker)

    os.kill(_parent(sleeper), signal.SIGKILL)  # the template: the marker's parent
    assert wait_for(lambda: not processes_with(marker))
    _, after = invoke(lambda_client, name, {}, Qualifier=version)

    assert after["init_id"] != before["init_id"]  # made again: the init ran again
    assert after["order"] == before["order"]


def test_a_snap_start_version_is_restored_after_a_server_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    client.create_function(FunctionName="snappy", Runtime="python3.12", Role=ROLE,
                           Handler="handler.handler", Code={"ZipFile": handler_zip(RESTORABLE)},
                           SnapStart=SNAP)  # fmt: skip
    wait_active(client, "snappy")
    version = publish(client, "snappy")["Version"]
    _, before = invoke(client, "snappy", {}, Qualifier=version)

    server.stop()
    server.start()
    config = client.get_function_configuration(FunctionName="snappy", Qualifier=version)
    _, after = invoke(client, "snappy", {}, Qualifier=version)

    assert config["State"] == "Active"
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert after["initialization_type"] == "snap-start"
    assert after["order"] == before["order"]  # a new snapshot, made the same way
    assert after["init_id"] != before["init_id"]


CONFINEMENT = """
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    status = dict(
        line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
    )
    return {
        "uid": os.getuid(),
        "caps": status["CapEff"].strip(),
        "seccomp": status["Seccomp"].strip(),
        "no_new_privs": status["NoNewPrivs"].strip(),
        "cgroup": open("/proc/self/cgroup").read(),
        "root_writable": os.access("/var/task", os.W_OK),
    }
"""


def test_restored_environments_are_confined_each_in_its_own_cgroup(lambda_client, make_function):
    name = make_function(CONFINEMENT, SnapStart=SNAP, Timeout=10)
    version = publish(lambda_client, name)["Version"]

    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(invoke, lambda_client, name, {"sleep": 1}, Qualifier=version)
                 for _ in range(2)]  # fmt: skip
        first, second = (call.result()[1] for call in calls)

    for body in (first, second):
        assert body["uid"] == 993
        assert body["caps"] == "0000000000000000"
        assert body["seccomp"] == "2"
        assert body["no_new_privs"] == "1"
        assert body["root_writable"] is False
    assert first["cgroup"] != second["cgroup"]  # one cgroup each


def test_an_alias_of_a_snap_start_version_is_restored(lambda_client, make_function):
    name = make_function(RESTORABLE, SnapStart=SNAP)
    version = publish(lambda_client, name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)

    response, body = invoke(lambda_client, name, {}, Qualifier="live", LogType="Tail")

    assert body["initialization_type"] == "snap-start"
    assert "Restore Duration" in tail(response)
    assert response["ExecutedVersion"] == version


def test_a_snapshot_interrupted_by_a_stop_is_made_at_the_next_start(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    source = "import time\ntime.sleep(2)\ndef handler(e, c):\n    return 'ready'\n"
    client.create_function(FunctionName="slow", Runtime="python3.12", Role=ROLE,
                           Handler="handler.handler", Code={"ZipFile": handler_zip(source)},
                           SnapStart=SNAP)  # fmt: skip
    wait_active(client, "slow")
    version = client.publish_version(FunctionName="slow")["Version"]

    server.stop()  # while the version's init runs
    server.start()
    pending = client.get_function_configuration(FunctionName="slow", Qualifier=version)
    final = publish_wait(client, "slow", version)
    _, body = invoke(client, "slow", {}, Qualifier=version)

    assert pending["State"] == "Pending"
    assert final["State"] == "Active"
    assert body == "ready"


def publish_wait(client: Any, name: str, version: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        config: dict[str, Any] = client.get_function_configuration(
            FunctionName=name, Qualifier=version
        )
        if config["State"] != "Pending" or time.monotonic() > deadline:
            return config
        time.sleep(0.05)


def test_a_function_bundling_aws_snapshot_restore_py_gets_its_hooks_run(
    lambda_client, make_function
):
    found = importlib.util.find_spec("snapshot_restore_py")  # AWS's, from PyPI
    assert found is not None and found.origin is not None
    source = RESTORABLE + (
        "\nimport snapshot_restore_py as _library\n"
        "def bundled(event, context):\n"
        "    return {**handler(event, context), 'library': _library.__file__}\n"
    )
    package: dict[str, str | bytes] = {
        "handler.py": source,
        "snapshot_restore_py.py": Path(found.origin).read_text(),
    }
    name = make_function(zip_bytes=zip_files(package), handler="handler.bundled", SnapStart=SNAP)
    version = publish(lambda_client, name)["Version"]

    _, body = invoke(lambda_client, name, {}, Qualifier=version)

    assert body["library"] == "/var/task/snapshot_restore_py.py"
    assert body["order"] == ["before-2!", "before-1", "after-1", "after-2"]


def test_a_snap_start_version_with_external_extensions_starts_cold_and_keeps_them(
    lambda_client, logs_client, make_function
):
    from tests.e2e.test_extensions import EXTENSION, messages
    from tests.e2e.test_runtime_api import package

    layer = lambda_client.publish_layer_version(
        LayerName=f"snap-extension-{time.time_ns()}",
        Content={"ZipFile": package({"extensions/probe": EXTENSION}, ("extensions/probe",))},
    )
    name = make_function(
        "def handler(e, c):\n    return c.aws_request_id\n",
        SnapStart=SNAP,
        Layers=[layer["LayerVersionArn"]],
    )
    try:
        version = publish(lambda_client, name)
        _, request_id = invoke(lambda_client, name, {}, Qualifier=version["Version"])
        found = messages(logs_client, name, f"REPORT RequestId: {request_id}")

        assert version["State"] == "Active"
        report = next(m for m in found if m.startswith(f"REPORT RequestId: {request_id}"))
        assert "Init Duration" in report and "Restore Duration" not in report
        assert any(m.startswith(f"probe INVOKE {request_id}") for m in found)
    finally:
        lambda_client.delete_layer_version(
            LayerName=layer["LayerArn"].rsplit(":", 1)[1], VersionNumber=layer["Version"]
        )
