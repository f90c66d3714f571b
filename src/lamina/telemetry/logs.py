"""Log groups, streams and events, kept in their own SQLite database.

Environments append events as their output arrives; a writer thread commits them in batches
(at most every ``flush_interval_s``, or sooner when many are waiting), so logging costs the
invoke path neither an fsync nor the time of an insert. Readers flush first, so what a client
reads includes everything written before its request. The layout mirrors CloudWatch Logs, whose
API the HTTP edge serves from here.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 256 * 1024
"""CloudWatch's limit for one event; longer messages are cut."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_streams (
    group_name TEXT NOT NULL,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    first_event_ms INTEGER,
    last_event_ms INTEGER,
    last_ingestion_ms INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_name, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY,
    group_name TEXT NOT NULL,
    stream_name TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    ingestion_ms INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (group_name, ts_ms, id);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (group_name, stream_name, id);
"""


@dataclass(frozen=True)
class LogEvent:
    id: int
    group: str
    stream: str
    timestamp_ms: int
    ingestion_ms: int
    message: str


@dataclass(frozen=True)
class LogStream:
    group: str
    name: str
    created_ms: int
    first_event_ms: int | None
    last_event_ms: int | None
    last_ingestion_ms: int | None
    stored_bytes: int


class LogStore:
    def __init__(self, path: Path, flush_interval_s: float = 0.2, max_pending: int = 2000) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        """Guards the connection: the writer thread and readers on the event loop share it."""
        self._pending: deque[tuple[str, str, int, str]] = deque()
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        self._wake = threading.Event()
        self._closed = False
        self._writer = threading.Thread(target=self._write_forever, name="lamina-logs", daemon=True)
        self._writer.start()

    def append(self, group: str, stream: str, timestamp_ms: int, message: str) -> None:
        """Queue one event; the writer thread commits it within the flush interval."""
        if self._closed:
            return
        if len(message) > MAX_EVENT_BYTES:
            message = message[:MAX_EVENT_BYTES]
        self._pending.append((group, stream, timestamp_ms, message))
        if len(self._pending) >= self._max_pending:
            self._wake.set()

    def flush(self) -> None:
        """Commit every queued event in one transaction."""
        with self._lock:
            self._flush_locked()

    @contextlib.contextmanager
    def _up_to_date(self) -> Iterator[sqlite3.Connection]:
        """The connection, for a reader, with everything queued so far committed."""
        with self._lock:
            self._flush_locked()
            yield self._db

    def _flush_locked(self) -> None:
        if self._closed:
            return
        batch: list[tuple[str, str, int, str]] = []
        with contextlib.suppress(IndexError):
            while True:
                batch.append(self._pending.popleft())
        if not batch:
            return
        now = int(time.time() * 1000)
        with self._db:
            self._db.execute("BEGIN")
            self._ensure_streams(batch, now)
            self._db.executemany(
                "INSERT INTO log_events (group_name, stream_name, ts_ms, ingestion_ms,"
                " message) VALUES (?, ?, ?, ?, ?)",
                [(g, s, ts, now, m) for g, s, ts, m in batch],
            )

    def _write_forever(self) -> None:
        while not self._closed:
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
            except sqlite3.Error:
                log.exception("writing log events failed; that batch of events is lost")

    def _ensure_streams(self, pending: Sequence[tuple[str, str, int, str]], now: int) -> None:
        stats: dict[tuple[str, str], list[int]] = {}
        for group, stream, ts, message in pending:
            entry = stats.setdefault((group, stream), [ts, ts, 0])
            entry[0] = min(entry[0], ts)
            entry[1] = max(entry[1], ts)
            entry[2] += len(message.encode())
        for (group, stream), (first, last, size) in stats.items():
            self._db.execute(
                "INSERT OR IGNORE INTO log_groups (name, created_ms) VALUES (?, ?)", (group, now)
            )
            self._db.execute(
                "INSERT INTO log_streams (group_name, name, created_ms, first_event_ms,"
                " last_event_ms, last_ingestion_ms, stored_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (group_name, name) DO UPDATE SET"
                " first_event_ms = MIN(COALESCE(first_event_ms, excluded.first_event_ms),"
                " excluded.first_event_ms),"
                " last_event_ms = MAX(COALESCE(last_event_ms, 0), excluded.last_event_ms),"
                " last_ingestion_ms = excluded.last_ingestion_ms,"
                " stored_bytes = stored_bytes + excluded.stored_bytes",
                (group, stream, now, first, last, now, size),
            )

    def groups(self, prefix: str = "", after: str = "", limit: int = 50) -> list[tuple[str, int]]:
        with self._up_to_date() as db:
            rows = db.execute(
                "SELECT name, created_ms FROM log_groups WHERE name >= ? AND name > ?"
                " AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?",
                (prefix, after, len(prefix), prefix, limit),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def group_exists(self, group: str) -> bool:
        with self._up_to_date() as db:
            row = db.execute("SELECT 1 FROM log_groups WHERE name = ?", (group,)).fetchone()
        return row is not None

    def streams(
        self, group: str, prefix: str = "", by_last_event: bool = False, descending: bool = False
    ) -> list[LogStream]:
        order = "COALESCE(last_event_ms, 0)" if by_last_event else "name"
        direction = "DESC" if descending else "ASC"
        with self._up_to_date() as db:
            rows = db.execute(
                "SELECT group_name, name, created_ms, first_event_ms, last_event_ms,"
                " last_ingestion_ms, stored_bytes FROM log_streams WHERE group_name = ?"
                f" AND substr(name, 1, ?) = ? ORDER BY {order} {direction}, name",
                (group, len(prefix), prefix),
            ).fetchall()
        return [LogStream(*row) for row in rows]

    def events(
        self,
        group: str,
        streams: Sequence[str] | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        after_id: int = 0,
        before_id: int | None = None,
        limit: int = 10000,
        newest_first: bool = False,
    ) -> list[LogEvent]:
        """Events of a group (optionally some of its streams) in time order, paged by id."""
        clauses = ["group_name = ?", "id > ?"]
        params: list[object] = [group, after_id]
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if streams:
            clauses.append(f"stream_name IN ({','.join('?' * len(streams))})")
            params.extend(streams)
        if start_ms is not None:
            clauses.append("ts_ms >= ?")
            params.append(start_ms)
        if end_ms is not None:
            clauses.append("ts_ms < ?")
            params.append(end_ms)
        direction = "DESC" if newest_first else "ASC"
        with self._up_to_date() as db:
            rows = db.execute(
                "SELECT id, group_name, stream_name, ts_ms, ingestion_ms, message FROM log_events"
                f" WHERE {' AND '.join(clauses)} ORDER BY id {direction} LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [LogEvent(*row) for row in rows]

    def delete_group(self, group: str) -> bool:
        with self._up_to_date() as db, db:
            db.execute("BEGIN")
            db.execute("DELETE FROM log_events WHERE group_name = ?", (group,))
            db.execute("DELETE FROM log_streams WHERE group_name = ?", (group,))
            cursor = db.execute("DELETE FROM log_groups WHERE name = ?", (group,))
        return cursor.rowcount > 0

    def close(self) -> None:
        """Write what is queued and stop. Safe to call twice."""
        if self._closed:
            return
        self.flush()
        with self._lock:
            self._closed = True
        self._wake.set()
        self._writer.join(timeout=5)
        self._db.close()
