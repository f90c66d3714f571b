"""Zygotes: environments forked from a pre-initialised interpreter stay what a fresh one is.

Each test proves a property a forked environment must keep: its own runtime and nothing of the
zygote's (no lamina modules, no open descriptors but its own, no other function's settings in
memory), the classic start when start-up variables demand it, and a zygote that dies being
replaced.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
from pathlib import Path
from typing import Any

from lamina.sandbox import zygote
from tests.conftest import (
    ROLE,
    MakeFunction,
    client_for,
    handler_zip,
    invoke,
    processes_with,
    unique_name,
    wait_active,
    zip_files,
)

INTROSPECT = """
import os, sys

def handler(event, context):
    return {
        "in_place": "_lamina_bootstrap" in sys.modules,
        "lamina_modules": sorted(m for m in sys.modules if m.split(".")[0] == "lamina"),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "uid": os.getuid(),
        "pid": os.getpid(),
        "imported": __import__(event["import"]).VALUE if event.get("import") else None,
    }
"""

SCAN_OWN_MEMORY = """
import hashlib, re

def handler(event, context):
    # Only the digest and a masked prefix are given, so the secret itself is never in this
    # process unless something else put it there.
    digest = bytes.fromhex(event["digest"])
    prefix = bytes(b ^ 0x5A for b in bytes.fromhex(event["masked_prefix"]))
    length = event["length"]
    found = scanned = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if "r" not in line.split()[1] or "[vvar]" in line:
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            scanned += len(data)
            at = data.find(prefix)
            while at != -1:
                if hashlib.sha256(data[at:at + length]).digest() == digest:
                    found += 1
                at = data.find(prefix, at + 1)
    return {"found": found, "scanned_mb": scanned // (1 << 20)}
"""


def zygote_pids() -> list[int]:
    return processes_with(zygote.BOOT)


def zygotes_of(server_pid: int) -> list[int]:
    """The zygotes a server started (its environments' processes share their command line)."""
    return [pid for pid in zygote_pids() if _parent(pid) == server_pid]


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_environments_run_the_preloaded_runtime_with_nothing_of_the_zygote(
    proven_isolated, lambda_client, make_function: MakeFunction
):
    name = make_function(INTROSPECT)

    _, seen = invoke(lambda_client, name, {})

    assert seen["in_place"] is True
    assert seen["lamina_modules"] == []
    assert seen["uid"] not in (0, None)
    # stdin, stdout, stderr, the control socket, and the directory being listed
    assert seen["fds"] == [0, 1, 2, 3, 4]
    assert zygote_pids()


def test_startup_variables_start_a_fresh_interpreter(proven_isolated, lambda_client, make_function):
    package = zip_files(
        {"handler.py": INTROSPECT, "vendor/vendored.py": "VALUE = 'from PYTHONPATH'\n"}
    )
    name = make_function(
        zip_bytes=package, Environment={"Variables": {"PYTHONPATH": "/var/task/vendor"}}
    )

    _, seen = invoke(lambda_client, name, {"import": "vendored"})

    assert seen["in_place"] is False
    assert seen["imported"] == "from PYTHONPATH"


def test_a_dead_zygote_is_replaced(proven_isolated, start_server):
    server = start_server()
    client = client_for(server.endpoint)
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(INTROSPECT)},
    )  # fmt: skip
    wait_active(client, name)
    assert invoke(client, name, {})[1]["in_place"] is True
    assert server.process is not None
    before = zygotes_of(server.process.pid)
    assert len(before) == 1
    os.kill(before[0], signal.SIGKILL)

    # A configuration change retires the warm environment: the next call starts a new one.
    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"AFTER": "kill"}}
    )
    wait_active(client, name)
    _, seen = invoke(client, name, {})
    after = zygotes_of(server.process.pid)

    assert seen["in_place"] is True
    assert len(after) == 1 and after != before


def scan_for(client: Any, scanner: str, secret: str) -> dict[str, Any]:
    """Ask ``scanner`` (SCAN_OWN_MEMORY) how often ``secret`` is in its memory."""
    data = secret.encode()
    event = {
        "digest": hashlib.sha256(data).hexdigest(),
        "masked_prefix": bytes(b ^ 0x5A for b in data[:6]).hex(),
        "length": len(data),
    }
    return dict(invoke(client, scanner, event)[1])


def test_no_function_settings_reach_another_functions_memory(
    proven_isolated, lambda_client, make_function
):
    secret = secrets.token_hex(24)  # 48 ASCII characters, as the variable holds them
    owner = make_function(INTROSPECT, Environment={"Variables": {"OWNER_SECRET": secret}})
    invoke(lambda_client, owner, {})  # its environment is forked from the zygote
    scanner = make_function(SCAN_OWN_MEMORY, MemorySize=512, Timeout=30)

    result = scan_for(lambda_client, scanner, secret)

    assert result["scanned_mb"] > 0, result
    assert result["found"] == 0, result


def test_the_secret_scan_finds_a_secret_that_is_there(
    proven_isolated, lambda_client, make_function
):
    """The scan above would see the secret if it were in memory: here it is a variable of
    the scanning function itself."""
    secret = secrets.token_hex(24)
    scanner = make_function(
        SCAN_OWN_MEMORY, MemorySize=512, Timeout=30,
        Environment={"Variables": {"OWN_SECRET": secret}},
    )  # fmt: skip

    result = scan_for(lambda_client, scanner, secret)

    assert result.get("found", 0) >= 1, result


def test_zygotes_can_be_turned_off(proven_isolated, start_server):
    server = start_server("--zygotes", "off")
    client = client_for(server.endpoint)
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(INTROSPECT)},
    )  # fmt: skip
    wait_active(client, name)

    _, seen = invoke(client, name, {})

    assert seen["in_place"] is False
    assert server.process is not None and zygotes_of(server.process.pid) == []


def test_zygotes_of_runtimes_in_use_start_with_the_server(proven_isolated, start_server):
    server = start_server()
    client = client_for(server.endpoint)
    name = unique_name()
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(INTROSPECT)},
    )  # fmt: skip
    wait_active(client, name)
    server.stop()

    server.start()  # no invocation yet
    assert server.process is not None

    assert len(zygotes_of(server.process.pid)) == 1
    assert invoke(client, name, {})[1]["in_place"] is True
