"""Billed duration and GB-seconds.

AWS rounds each invocation's duration up to the next millisecond. Since 1 August 2025 the init
phase of an on-demand cold start is billed too, so a cold start's billed duration covers
init and invoke together. For an environment restored from a SnapStart snapshot, the first
invocation's billed duration adds the Billed Restore Duration (the after-restore work, not the
restore itself), as AWS's REPORT lines show.
"""

from __future__ import annotations

import math


def billed_duration_ms(
    duration_ms: float, init_duration_ms: float | None = None, billed_restore_ms: int = 0
) -> int:
    total = duration_ms + (init_duration_ms or 0.0)
    return max(1, math.ceil(total)) + billed_restore_ms


def billed_restore_ms(hooks_ms: float) -> int:
    """What a restore bills: the time the runtime spent after the restore (hooks)."""
    return max(1, math.ceil(hooks_ms))


def gb_seconds(billed_ms: int, memory_mb: int) -> float:
    return (memory_mb / 1024) * (billed_ms / 1000)
