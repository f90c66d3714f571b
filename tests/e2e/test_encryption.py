"""Environment variables are encrypted at rest (AES-256-GCM, key in <data>/keys/env.key)."""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, client_for, handler_zip, wait_active

SECRET = "s3cr3t-" + secrets.token_hex(8)
READER = """
import os
def handler(event, context):
    return {name: os.environ.get(name) for name in event["names"]}
"""


def create(client: Any, name: str, variables: dict[str, str]) -> None:
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
        Code={"ZipFile": handler_zip(READER)}, Environment={"Variables": variables},
    )  # fmt: skip
    wait_active(client, name)


def seen(client: Any, name: str, *names: str, **kwargs: Any) -> dict[str, Any]:
    response = client.invoke(
        FunctionName=name, Payload=json.dumps({"names": names}).encode(), **kwargs
    )
    return dict(json.loads(response["Payload"].read()))


def files_containing(data_dir: Path, text: str) -> list[str]:
    return [
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file() and text.encode() in path.read_bytes()
    ]


def test_variables_are_nowhere_in_plain_text_on_disk(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    create(client, "secretive", {"SECRET": SECRET})
    client.publish_version(FunctionName="secretive")
    client.update_function_configuration(
        FunctionName="secretive", Environment={"Variables": {"SECRET": SECRET + "-2"}}
    )
    wait_active(client, "secretive")

    assert seen(client, "secretive", "SECRET") == {"SECRET": SECRET + "-2"}
    assert seen(client, "secretive", "SECRET", Qualifier="1") == {"SECRET": SECRET}
    assert (server.data_dir / "lamina.db-wal").exists()
    assert files_containing(server.data_dir, SECRET) == []
    server.stop()
    assert files_containing(server.data_dir, SECRET) == []


def test_the_key_is_kept_for_the_owner_only(start_server):
    server = start_server()
    key = server.data_dir / "keys" / "env.key"

    assert key.stat().st_size == 32
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.parent.stat().st_mode & 0o777 == 0o700


def test_the_api_shows_variables_and_the_function_sees_them_after_a_restart(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    create(client, "restarted", {"SECRET": SECRET, "OTHER": "x"})

    server.stop()
    server.start()

    config = client.get_function_configuration(FunctionName="restarted")
    assert config["Environment"] == {"Variables": {"SECRET": SECRET, "OTHER": "x"}}
    assert seen(client, "restarted", "SECRET", "OTHER") == {"SECRET": SECRET, "OTHER": "x"}


def _stored_config(server: RunningServer, name: str) -> dict[str, Any]:
    with sqlite3.connect(server.data_dir / "lamina.db") as db:
        (text,) = db.execute("SELECT config FROM functions WHERE name = ?", (name,)).fetchone()
    return dict(json.loads(text))


def _store_plain(server: RunningServer, name: str, variables: dict[str, str]) -> None:
    """Rewrite a function's row as a lamina without encryption wrote it."""
    record = _stored_config(server, name)
    record.pop("environment_sealed")
    record["environment"] = variables
    with sqlite3.connect(server.data_dir / "lamina.db") as db:
        db.execute("UPDATE functions SET config = ? WHERE name = ?", (json.dumps(record), name))


def test_a_plain_record_of_an_older_lamina_loads_and_is_sealed(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    create(client, "legacy", {"SECRET": "new"})
    server.stop()
    _store_plain(server, "legacy", {"SECRET": SECRET})

    server.start()

    config = client.get_function_configuration(FunctionName="legacy")
    assert config["Environment"] == {"Variables": {"SECRET": SECRET}}
    assert seen(client, "legacy", "SECRET") == {"SECRET": SECRET}
    stored = _stored_config(server, "legacy")
    assert "environment_sealed" in stored
    assert SECRET not in json.dumps(stored)


def test_a_replaced_key_stops_the_server_rather_than_losing_variables(start_server):
    server = start_server()
    client = client_for(server.endpoint)
    create(client, "locked", {"SECRET": SECRET})
    server.stop()
    key = server.data_dir / "keys" / "env.key"
    original = key.read_bytes()
    key.write_bytes(secrets.token_bytes(32))

    with pytest.raises(RuntimeError, match="exited early"):
        server.start()
    assert "do not open with" in server.log()

    key.write_bytes(original)
    server.start()
    assert seen(client, "locked", "SECRET") == {"SECRET": SECRET}
