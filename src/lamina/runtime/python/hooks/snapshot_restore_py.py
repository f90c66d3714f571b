"""SnapStart runtime hooks, importable by function code as AWS's ``snapshot_restore_py``.

The same interface as AWS's library (which its Python runtimes carry): register callables,
with the arguments to call them with, as a decorator or by a plain call::

    from snapshot_restore_py import register_after_restore, register_before_snapshot

    @register_before_snapshot
    def close_connections(): ...

    register_after_restore(reconnect, "db", retries=3)

Before a snapshot is taken the runtime runs the before-snapshot hooks in the reverse order of
their registration; in each environment restored from it, the after-restore hooks in the order
of their registration, as AWS documents. A function that bundles AWS's own copy of the library
gets that copy (the function's folder comes first on ``sys.path``); the runtime asks whichever
module was imported for its registries.
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

Hook = Tuple[Callable[..., Any], Tuple[Any, ...], dict]  # type: ignore[type-arg]

__all__ = ["register_after_restore", "register_before_snapshot"]

_before_snapshot: List[Hook] = []
_after_restore: List[Hook] = []


def register_before_snapshot(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` before the snapshot is taken; returns ``func``."""
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` in every environment restored from the snapshot."""
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot() -> List[Hook]:
    """The before-snapshot registry: (callable, args, kwargs) in registration order."""
    return _before_snapshot


def get_after_restore() -> List[Hook]:
    """The after-restore registry: (callable, args, kwargs) in registration order."""
    return _after_restore
