"""Execution environments per function version: start, reuse while warm, reap when idle."""

from lamina.pool.environment import Environment, Invocation
from lamina.pool.launcher import Launcher
from lamina.pool.pool import EnvironmentPool
from lamina.pool.snapshots import SnapshotCancelledError, SnapshotFailedError, SnapshotManager

__all__ = [
    "Environment",
    "EnvironmentPool",
    "Invocation",
    "Launcher",
    "SnapshotCancelledError",
    "SnapshotFailedError",
    "SnapshotManager",
]
