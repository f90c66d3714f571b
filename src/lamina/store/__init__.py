"""Durable state behind one interface: the embedded SQLite engine by default."""

from lamina.store.base import DuplicateError, SettingsStore, Store
from lamina.store.events import EventStore, QueuedEvent
from lamina.store.sqlite import SqliteStore

__all__ = [
    "DuplicateError",
    "EventStore",
    "QueuedEvent",
    "SettingsStore",
    "SqliteStore",
    "Store",
]
