"""Execution environments per function version: start, reuse while warm, reap when idle,
keep provisioned ones ready, stay within the node's memory budget."""

from lamina.pool.environment import Environment, Invocation
from lamina.pool.launcher import Launcher
from lamina.pool.pool import EnvironmentPool
from lamina.pool.provisioner import ProvisionedState, Provisioner
from lamina.pool.snapshots import SnapshotCancelledError, SnapshotFailedError, SnapshotManager

__all__ = [
    "Environment",
    "EnvironmentPool",
    "Invocation",
    "Launcher",
    "ProvisionedState",
    "Provisioner",
    "SnapshotCancelledError",
    "SnapshotFailedError",
    "SnapshotManager",
]
