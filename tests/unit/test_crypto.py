"""Sealing of environment variables in stored configuration records."""

from __future__ import annotations

import json
import secrets

import pytest

from lamina.model import FunctionConfig
from lamina.store.crypto import EnvironmentCipher, SealError
from lamina.store.records import PLAIN_MARKER, ConfigCodec

CONFIG = FunctionConfig(
    name="fn", runtime="python3.12", role="r", handler="h.h", code_sha256="00", code_size=1,
    revision_id="rev", last_modified_ms=0, environment={"SECRET": "hunter2"},
)  # fmt: skip


def test_a_record_keeps_no_plain_variables_and_loads_them_back():
    codec = ConfigCodec(EnvironmentCipher(secrets.token_bytes(32)))

    text = codec.dumps(CONFIG)

    assert "hunter2" not in text and "SECRET" not in text
    assert codec.loads(text) == CONFIG


def test_a_record_without_variables_stays_without():
    codec = ConfigCodec(EnvironmentCipher(secrets.token_bytes(32)))
    bare = FunctionConfig(**{**CONFIG.__dict__, "environment": None})

    assert codec.loads(codec.dumps(bare)).environment is None


def test_a_plain_record_of_an_older_lamina_still_loads():
    codec = ConfigCodec(EnvironmentCipher(secrets.token_bytes(32)))
    legacy = json.dumps(CONFIG.to_record())

    assert PLAIN_MARKER in legacy
    assert codec.loads(legacy).environment == {"SECRET": "hunter2"}


def test_another_key_does_not_open_the_variables():
    text = ConfigCodec(EnvironmentCipher(secrets.token_bytes(32))).dumps(CONFIG)

    with pytest.raises(SealError):
        ConfigCodec(EnvironmentCipher(secrets.token_bytes(32))).loads(text)


def test_sealed_variables_do_not_open_in_another_functions_row():
    cipher = EnvironmentCipher(secrets.token_bytes(32))
    record = json.loads(ConfigCodec(cipher).dumps(CONFIG))
    record["name"] = "other"

    with pytest.raises(SealError):
        ConfigCodec(cipher).loads(json.dumps(record))


def test_the_key_file_is_created_once_for_its_owner_only(tmp_path):
    path = tmp_path / "keys" / "env.key"
    first = EnvironmentCipher.from_key_file(path)
    sealed = first.seal({"A": "b"}, "ctx")

    again = EnvironmentCipher.from_key_file(path)

    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert again.open(sealed, "ctx") == {"A": "b"}
