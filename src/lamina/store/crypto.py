"""Encryption at rest of functions' environment variables: AES-256-GCM with a local key.

Variables often hold secrets; on AWS they are encrypted with a KMS key. lamina has no KMS, so it
seals them with a 256-bit key kept in the data directory (``keys/env.key``, created on first
start, readable by its owner only). Only the stored bytes change: the store seals a
configuration's variables as it writes the row and opens them as it reads it, so the memory
cache, the API and the invoke path see plain variables and pay nothing per invocation.

A sealed value is ``v1:`` and the base64 of a random 96-bit nonce followed by the ciphertext
and its tag. The function's name and version are authenticated with it (associated data), so a
value copied to another function's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lamina.errors import InternalError

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "v1:"


class SealError(InternalError):
    """A sealed value does not open with this key (another key, or a damaged value)."""


class EnvironmentCipher:
    def __init__(self, key: bytes, source: str = "the given key") -> None:
        """``source`` says where the key lives, for error messages."""
        if len(key) != KEY_BYTES:
            raise ValueError(f"the environment key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self.source = source

    @classmethod
    def from_key_file(cls, path: Path) -> EnvironmentCipher:
        """The cipher of the key at ``path``, created (folder 0700, file 0600) if missing."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes()
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"{path}: the environment key must be {KEY_BYTES} bytes, not {len(key)}"
                ) from None
            return cls(key, str(path))
        key = secrets.token_bytes(KEY_BYTES)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
            out.flush()
            os.fsync(out.fileno())
        return cls(key, str(path))

    def seal(self, variables: dict[str, str], context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        plain = json.dumps(variables, separators=(",", ":")).encode()
        sealed = self._aead.encrypt(nonce, plain, context.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, value: str, context: str) -> dict[str, str]:
        """The variables of a sealed value; SealError when this key cannot open it."""
        if not value.startswith(PREFIX):
            raise SealError(f"unknown sealed value format for {context!r}")
        try:
            raw = base64.b64decode(value[len(PREFIX) :], validate=True)
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SealError(
                f"the environment variables of {context!r} do not open with {self.source}: "
                "was the key replaced, or the database copied without its key?"
            ) from exc
        variables: dict[str, str] = json.loads(plain)
        return variables
