"""The durable queue of asynchronous invocations: one SQLite database of its own.

``queue.db`` runs with ``synchronous=FULL``: a commit returns only once the event is on disk, so
an accepted event survives the server being killed, and the machine losing power. Commits are
grouped by the caller (many accepts, one transaction, one fsync). The queue's policy — when an
event is due, retries, maximum age — lives in ``lamina.invoke.queue``; this module only stores.

Not thread-safe: one thread at a time (the queue uses a dedicated single-thread executor).
Rows are deleted once their event is finished; what remains after a crash is run again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id              INTEGER PRIMARY KEY,
    request_id      TEXT NOT NULL,
    function_name   TEXT NOT NULL,
    qualifier       TEXT,
    payload         BLOB NOT NULL,
    client_context  TEXT,
    received_ms     INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_due ON events (next_attempt_ms, id);
"""


@dataclass
class QueuedEvent:
    request_id: str
    function_name: str
    qualifier: str | None
    payload: bytes
    client_context: str | None
    received_ms: int
    attempts: int = 0
    next_attempt_ms: int = 0
    id: int | None = None


class EventStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def put_many(self, events: Sequence[QueuedEvent]) -> None:
        """Store events in one durable transaction; sets their ids."""
        with self._db:
            self._db.execute("BEGIN")
            for event in events:
                cursor = self._db.execute(
                    "INSERT INTO events (request_id, function_name, qualifier, payload,"
                    " client_context, received_ms, attempts, next_attempt_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.request_id,
                        event.function_name,
                        event.qualifier,
                        event.payload,
                        event.client_context,
                        event.received_ms,
                        event.attempts,
                        event.next_attempt_ms,
                    ),
                )
                event.id = cursor.lastrowid

    def due(self, now_ms: int, limit: int, exclude: Iterable[int]) -> list[QueuedEvent]:
        """Events whose next attempt is due, oldest first, other than those in ``exclude``."""
        excluded = set(exclude)
        rows = self._db.execute(
            "SELECT id, request_id, function_name, qualifier, payload, client_context,"
            " received_ms, attempts, next_attempt_ms FROM events"
            " WHERE next_attempt_ms <= ? ORDER BY next_attempt_ms, id LIMIT ?",
            (now_ms, limit + len(excluded)),
        ).fetchall()
        events = [
            QueuedEvent(
                id=row[0], request_id=row[1], function_name=row[2], qualifier=row[3],
                payload=bytes(row[4]), client_context=row[5], received_ms=row[6],
                attempts=row[7], next_attempt_ms=row[8],
            )
            for row in rows
            if row[0] not in excluded
        ]  # fmt: skip
        return events[:limit]

    def next_due_ms(self) -> int | None:
        row = self._db.execute("SELECT MIN(next_attempt_ms) FROM events").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def reschedule(self, event_id: int, attempts: int, next_attempt_ms: int) -> None:
        with self._db:
            self._db.execute(
                "UPDATE events SET attempts = ?, next_attempt_ms = ? WHERE id = ?",
                (attempts, next_attempt_ms, event_id),
            )

    def delete(self, event_ids: Sequence[int]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in event_ids])

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def close(self) -> None:
        self._db.close()
