"""The SettingsStore on the embedded SQLite database: code signing configurations and small
per-function settings (tables of migration 0006).

It shares the SqliteStore's connection (same database, same thread), so a function's rows are
removed in the same place as the function. These are control-plane reads; nothing here is on
the invoke path, so nothing is cached.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

FUNCTION_TABLES = ("function_code_signing", "function_settings")
"""Tables with a ``function_name`` column: emptied of a function's rows when it is deleted."""


class SqliteSettingsStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def put_code_signing_config(self, config_id: str, config: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO code_signing_configs (id, config) VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET config = excluded.config",
            (config_id, json.dumps(config)),
        )

    async def get_code_signing_config(self, config_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT config FROM code_signing_configs WHERE id = ?", (config_id,)
        ).fetchone()
        return dict(json.loads(row[0])) if row else None

    async def list_code_signing_configs(
        self, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT config FROM code_signing_configs WHERE id > ? ORDER BY id LIMIT ?",
            (after or "", limit),
        ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    async def delete_code_signing_config(self, config_id: str) -> bool:
        cursor = self._db.execute("DELETE FROM code_signing_configs WHERE id = ?", (config_id,))
        return cursor.rowcount > 0

    async def set_function_code_signing(self, name: str, config_id: str | None) -> None:
        if config_id is None:
            self._db.execute("DELETE FROM function_code_signing WHERE function_name = ?", (name,))
            return
        self._db.execute(
            "INSERT INTO function_code_signing (function_name, config_id) VALUES (?, ?)"
            " ON CONFLICT (function_name) DO UPDATE SET config_id = excluded.config_id",
            (name, config_id),
        )

    async def get_function_code_signing(self, name: str) -> str | None:
        row = self._db.execute(
            "SELECT config_id FROM function_code_signing WHERE function_name = ?", (name,)
        ).fetchone()
        return str(row[0]) if row else None

    async def functions_using_code_signing(
        self, config_id: str, after: str | None, limit: int
    ) -> list[str]:
        rows = self._db.execute(
            "SELECT function_name FROM function_code_signing"
            " WHERE config_id = ? AND function_name > ? ORDER BY function_name LIMIT ?",
            (config_id, after or "", limit),
        ).fetchall()
        return [str(r[0]) for r in rows]

    async def get_function_setting(
        self, name: str, qualifier: str, kind: str
    ) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT config FROM function_settings"
            " WHERE function_name = ? AND qualifier = ? AND kind = ?",
            (name, qualifier, kind),
        ).fetchone()
        return dict(json.loads(row[0])) if row else None

    async def put_function_setting(
        self, name: str, qualifier: str, kind: str, config: dict[str, Any]
    ) -> None:
        self._db.execute(
            "INSERT INTO function_settings (function_name, qualifier, kind, config)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (function_name, qualifier, kind)"
            " DO UPDATE SET config = excluded.config",
            (name, qualifier, kind, json.dumps(config)),
        )
