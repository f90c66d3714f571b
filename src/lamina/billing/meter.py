"""Billed duration and GB-seconds.

AWS rounds each invocation's duration up to the next millisecond. Since 1 August 2025 the init
phase of an on-demand cold start is billed too, so a cold start's billed duration covers
init and invoke together.
"""

from __future__ import annotations

import math


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None = None) -> int:
    total = duration_ms + (init_duration_ms or 0.0)
    return max(1, math.ceil(total))


def gb_seconds(billed_ms: int, memory_mb: int) -> float:
    return (memory_mb / 1024) * (billed_ms / 1000)
