"""The embedded store: one SQLite database in WAL mode under the data directory.

Queries are short primary-key lookups and single-row writes, so they run on the event loop's
thread (a hop to a worker thread would cost more than the query). ``synchronous=NORMAL`` in WAL
mode keeps every committed transaction across a crash of the server process; only a power loss
can drop the last few.

The database belongs to one server process, so function configurations are also kept in memory
after their first read and updated on every write: the invoke path reads a configuration without
touching SQLite or decoding JSON.

Environment variables are sealed in the rows (records.py, crypto.py) and plain in memory.
``secure_delete`` zeroes what a write frees, so a replaced row leaves no old bytes behind.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from lamina.model import Alias, FunctionConfig, FunctionUrlConfig, LayerVersion
from lamina.store.base import DuplicateError
from lamina.store.crypto import EnvironmentCipher
from lamina.store.records import PLAIN_MARKER, ConfigCodec
from lamina.store.sqlite_provisioned import TABLE as PROVISIONED_TABLE
from lamina.store.sqlite_provisioned import SqliteProvisionedStore
from lamina.store.sqlite_settings import FUNCTION_TABLES, SqliteSettingsStore

MIGRATIONS_PACKAGE = "lamina.store.migrations"
_CONFIG_TABLES = {"functions": ("name",), "function_versions": ("function_name", "version")}
"""Tables of function configurations, with their key columns."""


class SqliteStore:
    def __init__(self, path: Path, cipher: EnvironmentCipher) -> None:
        """``cipher`` seals the functions' environment variables in the stored rows."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA secure_delete=ON")
        migrate(self._db)
        self._codec = ConfigCodec(cipher)
        self._seal_plain_rows()
        self._functions: dict[str, FunctionConfig] = {}
        self._versions: dict[str, FunctionConfig] = {}
        self._aliases: dict[str, Alias] = {}
        self.settings = SqliteSettingsStore(self._db)
        """Code signing configurations and per-function settings, on the same database."""
        self.provisioned = SqliteProvisionedStore(self._db)
        """Provisioned concurrency configurations, on the same database."""
        self._urls: dict[str, FunctionUrlConfig] = {}
        """Function URLs by url_id, as requests to them have been served."""

    async def get_function(self, name: str) -> FunctionConfig | None:
        cached = self._functions.get(name)
        if cached is not None:
            return cached
        row = self._db.execute("SELECT config FROM functions WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        config = self._functions[name] = self._codec.loads(row[0])
        return config

    async def list_functions(self, after: str | None, limit: int) -> list[FunctionConfig]:
        rows = self._db.execute(
            "SELECT config FROM functions WHERE name > ? ORDER BY name LIMIT ?",
            (after or "", limit),
        ).fetchall()
        return [self._codec.loads(r[0]) for r in rows]

    async def insert_function(self, config: FunctionConfig) -> None:
        try:
            self._db.execute(
                "INSERT INTO functions (name, config, code_sha256, code_size, revision_id,"
                " created_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    config.name,
                    self._codec.dumps(config),
                    config.code_sha256,
                    config.code_size,
                    config.revision_id,
                    int(time.time() * 1000),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(config.name) from exc
        self._functions[config.name] = config

    async def replace_function(self, config: FunctionConfig, expected_revision: str) -> bool:
        cursor = self._db.execute(
            "UPDATE functions SET config = ?, code_sha256 = ?, code_size = ?, revision_id = ?"
            " WHERE name = ? AND revision_id = ?",
            (
                self._codec.dumps(config),
                config.code_sha256,
                config.code_size,
                config.revision_id,
                config.name,
                expected_revision,
            ),
        )
        if cursor.rowcount != 1:
            return False
        self._functions[config.name] = config
        return True

    async def delete_function(self, name: str) -> FunctionConfig | None:
        row = self._db.execute(
            "DELETE FROM functions WHERE name = ? RETURNING config", (name,)
        ).fetchone()
        tables = (
            "event_invoke_configs",
            "function_versions",
            "aliases",
            "policies",
            "function_urls",
            PROVISIONED_TABLE,
            *FUNCTION_TABLES,
        )
        for table in tables:
            self._db.execute(f"DELETE FROM {table} WHERE function_name = ?", (name,))
        self._functions.pop(name, None)
        self._forget_urls(name, None)
        prefix = f"{name}:"
        for cache in (self._versions, self._aliases):
            for key in [k for k in cache if k.startswith(prefix)]:
                del cache[key]
        return self._codec.loads(row[0]) if row else None

    async def insert_version(self, config: FunctionConfig) -> None:
        """Add a published version; DuplicateError if its number exists."""
        try:
            self._db.execute(
                "INSERT INTO function_versions (function_name, version, config, code_sha256)"
                " VALUES (?, ?, ?, ?)",
                (
                    config.name,
                    int(config.version),
                    self._codec.dumps(config),
                    config.code_sha256,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(f"{config.name}:{config.version}") from exc

    async def get_version(self, name: str, version: str) -> FunctionConfig | None:
        if not version.isdigit():
            return None
        key = f"{name}:{int(version)}"
        cached = self._versions.get(key)
        if cached is not None:
            return cached
        row = self._db.execute(
            "SELECT config FROM function_versions WHERE function_name = ? AND version = ?",
            (name, int(version)),
        ).fetchone()
        if row is None:
            return None
        config = self._versions[key] = self._codec.loads(row[0])
        return config

    async def list_versions(self, name: str) -> list[FunctionConfig]:
        rows = self._db.execute(
            "SELECT config FROM function_versions WHERE function_name = ? ORDER BY version",
            (name,),
        ).fetchall()
        return [self._codec.loads(r[0]) for r in rows]

    async def replace_version(self, config: FunctionConfig) -> None:
        """Store a version's state transition (Pending → Active); its content never changes."""
        self._db.execute(
            "UPDATE function_versions SET config = ? WHERE function_name = ? AND version = ?",
            (self._codec.dumps(config), config.name, int(config.version)),
        )
        self._versions[f"{config.name}:{int(config.version)}"] = config

    async def delete_version(self, name: str, version: str) -> FunctionConfig | None:
        row = self._db.execute(
            "DELETE FROM function_versions WHERE function_name = ? AND version = ?"
            " RETURNING config",
            (name, int(version)),
        ).fetchone()
        self._versions.pop(f"{name}:{int(version)}", None)
        await self.provisioned.delete_provisioned(name, str(int(version)))
        return self._codec.loads(row[0]) if row else None

    async def put_alias(self, alias: Alias) -> None:
        self._db.execute(
            "INSERT INTO aliases (function_name, name, alias) VALUES (?, ?, ?)"
            " ON CONFLICT (function_name, name) DO UPDATE SET alias = excluded.alias",
            (alias.function_name, alias.name, json.dumps(alias.to_record())),
        )
        self._aliases[f"{alias.function_name}:{alias.name}"] = alias

    async def insert_alias(self, alias: Alias) -> None:
        try:
            self._db.execute(
                "INSERT INTO aliases (function_name, name, alias) VALUES (?, ?, ?)",
                (alias.function_name, alias.name, json.dumps(alias.to_record())),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(f"{alias.function_name}:{alias.name}") from exc
        self._aliases[f"{alias.function_name}:{alias.name}"] = alias

    async def get_alias(self, name: str, alias: str) -> Alias | None:
        key = f"{name}:{alias}"
        cached = self._aliases.get(key)
        if cached is not None:
            return cached
        row = self._db.execute(
            "SELECT alias FROM aliases WHERE function_name = ? AND name = ?", (name, alias)
        ).fetchone()
        if row is None:
            return None
        found = self._aliases[key] = Alias.from_record(json.loads(row[0]))
        return found

    async def list_aliases(self, name: str) -> list[Alias]:
        rows = self._db.execute(
            "SELECT alias FROM aliases WHERE function_name = ? ORDER BY name", (name,)
        ).fetchall()
        return [Alias.from_record(json.loads(r[0])) for r in rows]

    async def delete_alias(self, name: str, alias: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM aliases WHERE function_name = ? AND name = ?", (name, alias)
        )
        self._aliases.pop(f"{name}:{alias}", None)
        await self.delete_function_url(name, alias)
        await self.provisioned.delete_provisioned(name, alias)
        return cursor.rowcount > 0

    async def get_policy(self, name: str, qualifier: str) -> list[dict[str, Any]]:
        row = self._db.execute(
            "SELECT statements FROM policies WHERE function_name = ? AND qualifier = ?",
            (name, qualifier),
        ).fetchone()
        return list(json.loads(row[0])) if row else []

    async def put_policy(self, name: str, qualifier: str, statements: list[dict[str, Any]]) -> None:
        if not statements:
            self._db.execute(
                "DELETE FROM policies WHERE function_name = ? AND qualifier = ?", (name, qualifier)
            )
            return
        self._db.execute(
            "INSERT INTO policies (function_name, qualifier, statements) VALUES (?, ?, ?)"
            " ON CONFLICT (function_name, qualifier)"
            " DO UPDATE SET statements = excluded.statements",
            (name, qualifier, json.dumps(statements)),
        )

    async def add_layer_version(self, layer: LayerVersion) -> LayerVersion:
        # One transaction: the number is used up only if the version is stored.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            (number,) = self._db.execute(
                "INSERT INTO layers (name, last_version) VALUES (?, 1) ON CONFLICT (name)"
                " DO UPDATE SET last_version = last_version + 1 RETURNING last_version",
                (layer.layer_name,),
            ).fetchone()
            stored = replace(layer, version=int(number))
            self._db.execute(
                "INSERT INTO layer_versions (layer_name, version, record, code_sha256)"
                " VALUES (?, ?, ?, ?)",
                (
                    stored.layer_name,
                    stored.version,
                    json.dumps(stored.to_record()),
                    stored.code_sha256,
                ),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return stored

    async def get_layer_version(self, name: str, version: int) -> LayerVersion | None:
        row = self._db.execute(
            "SELECT record FROM layer_versions WHERE layer_name = ? AND version = ?",
            (name, version),
        ).fetchone()
        return LayerVersion.from_record(json.loads(row[0])) if row else None

    async def list_layer_versions(self, name: str | None = None) -> list[LayerVersion]:
        rows = self._db.execute(
            "SELECT record FROM layer_versions WHERE ? IS NULL OR layer_name = ?"
            " ORDER BY layer_name, version DESC",
            (name, name),
        ).fetchall()
        return [LayerVersion.from_record(json.loads(r[0])) for r in rows]

    async def delete_layer_version(self, name: str, version: int) -> bool:
        cursor = self._db.execute(
            "DELETE FROM layer_versions WHERE layer_name = ? AND version = ?", (name, version)
        )
        return cursor.rowcount > 0

    async def get_layer_policy(self, name: str, version: int) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT policy FROM layer_versions WHERE layer_name = ? AND version = ?",
            (name, version),
        ).fetchone()
        return dict(json.loads(row[0])) if row and row[0] else None

    async def put_layer_policy(
        self, name: str, version: int, policy: dict[str, Any] | None
    ) -> None:
        self._db.execute(
            "UPDATE layer_versions SET policy = ? WHERE layer_name = ? AND version = ?",
            (json.dumps(policy) if policy else None, name, version),
        )

    async def account_usage(self) -> tuple[int, int]:
        count, total = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(code_size), 0) FROM functions"
        ).fetchone()
        return int(count), int(total)

    async def code_in_use(self, sha256_hex: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM functions WHERE code_sha256 = ?"
            " UNION ALL SELECT 1 FROM function_versions WHERE code_sha256 = ?"
            " UNION ALL SELECT 1 FROM layer_versions WHERE code_sha256 = ? LIMIT 1",
            (sha256_hex, sha256_hex, sha256_hex),
        ).fetchone()
        if row is not None:
            return True
        # A deleted layer version's package lives on while a function still uses it.
        for table in ("functions", "function_versions"):
            row = self._db.execute(
                f"SELECT 1 FROM {table}, json_each({table}.config, '$.layers') AS layer"
                " WHERE json_extract(layer.value, '$.code_sha256') = ? LIMIT 1",
                (sha256_hex,),
            ).fetchone()
            if row is not None:
                return True
        return False

    async def get_event_invoke_config(self, name: str, qualifier: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT config FROM event_invoke_configs WHERE function_name = ? AND qualifier = ?",
            (name, qualifier),
        ).fetchone()
        return dict(json.loads(row[0])) if row else None

    async def put_event_invoke_config(
        self, name: str, qualifier: str, config: dict[str, Any]
    ) -> None:
        self._db.execute(
            "INSERT INTO event_invoke_configs (function_name, qualifier, config) VALUES (?, ?, ?)"
            " ON CONFLICT (function_name, qualifier) DO UPDATE SET config = excluded.config",
            (name, qualifier, json.dumps(config)),
        )

    async def delete_event_invoke_config(self, name: str, qualifier: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM event_invoke_configs WHERE function_name = ? AND qualifier = ?",
            (name, qualifier),
        )
        return cursor.rowcount > 0

    async def list_event_invoke_configs(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._db.execute(
            "SELECT qualifier, config FROM event_invoke_configs WHERE function_name = ?"
            " ORDER BY qualifier",
            (name,),
        ).fetchall()
        return [(r[0], dict(json.loads(r[1]))) for r in rows]

    async def insert_function_url(self, url: FunctionUrlConfig) -> None:
        try:
            self._db.execute(
                "INSERT INTO function_urls (url_id, function_name, qualifier, config)"
                " VALUES (?, ?, ?, ?)",
                (url.url_id, url.function_name, url.qualifier, json.dumps(url.to_record())),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(f"{url.function_name}:{url.qualifier}") from exc

    async def replace_function_url(self, url: FunctionUrlConfig) -> None:
        self._db.execute(
            "UPDATE function_urls SET config = ? WHERE url_id = ?",
            (json.dumps(url.to_record()), url.url_id),
        )
        self._urls.pop(url.url_id, None)

    async def get_function_url(self, name: str, qualifier: str) -> FunctionUrlConfig | None:
        row = self._db.execute(
            "SELECT config FROM function_urls WHERE function_name = ? AND qualifier = ?",
            (name, qualifier),
        ).fetchone()
        return _url(row[0]) if row else None

    async def function_url_by_id(self, url_id: str) -> FunctionUrlConfig | None:
        cached = self._urls.get(url_id)
        if cached is not None:
            return cached
        row = self._db.execute(
            "SELECT config FROM function_urls WHERE url_id = ?", (url_id,)
        ).fetchone()
        if row is None:
            return None
        url = self._urls[url_id] = _url(row[0])
        return url

    async def list_function_urls(self, name: str) -> list[FunctionUrlConfig]:
        rows = self._db.execute(
            "SELECT config FROM function_urls WHERE function_name = ? ORDER BY qualifier",
            (name,),
        ).fetchall()
        return [_url(r[0]) for r in rows]

    async def delete_function_url(self, name: str, qualifier: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM function_urls WHERE function_name = ? AND qualifier = ?",
            (name, qualifier),
        )
        self._forget_urls(name, qualifier)
        return cursor.rowcount > 0

    def _forget_urls(self, name: str, qualifier: str | None) -> None:
        """Drop cached URLs of a function (all of them when ``qualifier`` is None)."""
        for url_id, url in list(self._urls.items()):
            if url.function_name == name and qualifier in (None, url.qualifier):
                del self._urls[url_id]

    def close(self) -> None:
        self._db.close()

    def _seal_plain_rows(self) -> None:
        """Seal the variables of rows written before they were sealed (by an older lamina)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for table, keys in _CONFIG_TABLES.items():
                rows = self._db.execute(
                    f"SELECT {', '.join(keys)}, config FROM {table} WHERE instr(config, ?) > 0",
                    (PLAIN_MARKER,),
                ).fetchall()
                where = " AND ".join(f"{k} = ?" for k in keys)
                for *key, text in rows:
                    sealed = self._codec.dumps(self._codec.loads(text))
                    self._db.execute(f"UPDATE {table} SET config = ? WHERE {where}", (sealed, *key))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _url(text: str) -> FunctionUrlConfig:
    return FunctionUrlConfig.from_record(json.loads(text))


def migrate(db: sqlite3.Connection) -> None:
    """Apply the numbered scripts in ``migrations/`` that this database has not seen yet."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    scripts = sorted(
        (f for f in resources.files(MIGRATIONS_PACKAGE).iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    for script in scripts:
        number = int(script.name.split("_", 1)[0])
        if number <= current:
            continue
        db.executescript(f"BEGIN;\n{script.read_text()}\nPRAGMA user_version = {number};\nCOMMIT;")
