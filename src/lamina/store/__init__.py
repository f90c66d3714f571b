"""Durable state behind one interface: the embedded SQLite engine by default."""

from lamina.store.base import DuplicateError, ProvisionedStore, SettingsStore, Store
from lamina.store.events import EventStore, QueuedEvent
from lamina.store.sqlite import SqliteStore

__all__ = [
    "DuplicateError",
    "EventStore",
    "ProvisionedStore",
    "QueuedEvent",
    "SettingsStore",
    "SqliteStore",
    "Store",
]
