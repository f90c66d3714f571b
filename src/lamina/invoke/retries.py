"""When an asynchronous event is tried again, and when it is given up; pure policy.

As on AWS: a function error is retried twice by default, about one and two minutes later;
throttles and platform failures are retried with exponential backoff (1 s doubling to 5
minutes) without counting as attempts, until the event's maximum age (6 hours by default).
``scale`` shrinks every delay (a server setting, for tests).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_S = 21_600
FUNCTION_ERROR_DELAYS_S = (60.0, 120.0)
THROTTLE_FIRST_DELAY_S = 1.0
THROTTLE_MAX_DELAY_S = 300.0


@dataclass(frozen=True)
class AsyncSettings:
    """An event's asynchronous invocation settings: its function's, else AWS's defaults."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_s: int = DEFAULT_MAXIMUM_EVENT_AGE_S
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None


def function_error_delay_s(retry: int, scale: float = 1.0) -> float:
    """Delay before retry number ``retry`` (1, 2, …) after a function error."""
    index = min(retry, len(FUNCTION_ERROR_DELAYS_S)) - 1
    return FUNCTION_ERROR_DELAYS_S[index] * scale


def throttle_delay_s(consecutive: int, scale: float = 1.0) -> float:
    """Delay after the ``consecutive``-th throttle (or platform failure) in a row (1, 2, …)."""
    delay = THROTTLE_FIRST_DELAY_S * float(2 ** max(consecutive - 1, 0))
    return min(delay, THROTTLE_MAX_DELAY_S) * scale


def expired(received_ms: int, at_ms: int, settings: AsyncSettings, scale: float = 1.0) -> bool:
    """Whether an event received at ``received_ms`` is past its maximum age at ``at_ms``."""
    return at_ms - received_ms > settings.maximum_event_age_s * 1000 * scale
