"""Stored rows of function configurations: JSON records whose environment variables are sealed.

``FunctionConfig.to_record`` with ``environment`` replaced by ``environment_sealed`` (see
crypto.py). Records written before variables were sealed carry a plain ``environment`` and
still load; the store seals them when it opens the database.
"""

from __future__ import annotations

import json
from typing import Any

from lamina.model import LATEST, FunctionConfig
from lamina.store.crypto import EnvironmentCipher

SEALED = "environment_sealed"
PLAIN_MARKER = '"environment": {'
"""How a record with plain variables looks in its JSON text (``json.dumps`` separators)."""


class ConfigCodec:
    def __init__(self, cipher: EnvironmentCipher) -> None:
        self._cipher = cipher

    def dumps(self, config: FunctionConfig) -> str:
        record = config.to_record()
        variables = record.pop("environment")
        if variables is not None:
            record[SEALED] = self._cipher.seal(variables, _context(record))
        return json.dumps(record)

    def loads(self, text: str) -> FunctionConfig:
        record = json.loads(text)
        sealed = record.pop(SEALED, None)
        if sealed is not None:
            record["environment"] = self._cipher.open(sealed, _context(record))
        return FunctionConfig.from_record(record)


def _context(record: dict[str, Any]) -> str:
    """What a sealed value is bound to: the function and version of its row."""
    return f"{record['name']}:{record.get('version', LATEST)}"
