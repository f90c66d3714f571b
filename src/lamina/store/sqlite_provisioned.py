"""The ProvisionedStore on the embedded SQLite database (table of migration 0008).

It shares the SqliteStore's connection, so a function's rows go with the function
(``SqliteStore.delete_function``) and an alias's with the alias. Control-plane reads only.
"""

from __future__ import annotations

import sqlite3

from lamina.model import ProvisionedConfig

TABLE = "provisioned_concurrency"


class SqliteProvisionedStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def put_provisioned(self, config: ProvisionedConfig) -> None:
        self._db.execute(
            f"INSERT INTO {TABLE} (function_name, qualifier, requested, last_modified_ms)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (function_name, qualifier) DO UPDATE SET"
            " requested = excluded.requested, last_modified_ms = excluded.last_modified_ms",
            (config.function_name, config.qualifier, config.requested, config.last_modified_ms),
        )

    async def get_provisioned(self, name: str, qualifier: str) -> ProvisionedConfig | None:
        row = self._db.execute(
            f"SELECT function_name, qualifier, requested, last_modified_ms FROM {TABLE}"
            " WHERE function_name = ? AND qualifier = ?",
            (name, qualifier),
        ).fetchone()
        return ProvisionedConfig(*row) if row else None

    async def list_provisioned(self, name: str | None = None) -> list[ProvisionedConfig]:
        """One function's configurations (every function's when ``name`` is None), ordered."""
        rows = self._db.execute(
            f"SELECT function_name, qualifier, requested, last_modified_ms FROM {TABLE}"
            " WHERE ? IS NULL OR function_name = ? ORDER BY function_name, qualifier",
            (name, name),
        ).fetchall()
        return [ProvisionedConfig(*row) for row in rows]

    async def delete_provisioned(self, name: str, qualifier: str) -> bool:
        cursor = self._db.execute(
            f"DELETE FROM {TABLE} WHERE function_name = ? AND qualifier = ?", (name, qualifier)
        )
        return cursor.rowcount > 0
