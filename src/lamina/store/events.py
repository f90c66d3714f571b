"""The durable queue of asynchronous invocations: one SQLite database of its own.

``queue.db`` runs with ``synchronous=FULL``: a commit returns only once the event is on disk, so
an accepted event survives the server being killed, and the machine losing power. Commits are
grouped by the caller (many accepts, one transaction, one fsync). The queue's policy — when an
event is due, retries, maximum age — lives in ``lamina.invoke.queue``; this module only stores.

Two connections, each for one thread: accepting (inserts, ``synchronous=FULL``) and working
(due events, reschedules, deletions, without fsync: losing one of those on a power loss only
runs an event again or sooner, never loses one). Rows are deleted once their event is
finished; what remains after a crash is run again.
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
        self._accepting = _connect(path, "FULL")
        self._accepting.executescript(_SCHEMA)
        self._db = _connect(path, "NORMAL")

    def put_many(self, events: Sequence[QueuedEvent]) -> None:
        """Store events in one durable transaction; sets their ids. The accepting thread's."""
        with self._accepting:
            self._accepting.execute("BEGIN IMMEDIATE")
            for event in events:
                cursor = self._accepting.execute(
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
            self._db.execute("BEGIN IMMEDIATE")
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                self._db.execute(f"DELETE FROM events WHERE id IN ({marks})", chunk)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def close(self) -> None:
        self._accepting.close()
        self._db.close()


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA busy_timeout=10000")
    return db
