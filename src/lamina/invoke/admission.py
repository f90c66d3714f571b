"""Concurrency accounting on one node: no invocation ever runs beyond its limit.

A function with reserved concurrency R may run at most R invocations at once, and no other
function may use those R. Every other function shares the unreserved pool: the account limit
minus all reservations. Admission is decided synchronously on the event loop, so a burst cannot
slip past a limit between a check and its increment.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.errors import TooManyRequestsException

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


@dataclass
class Ticket:
    function_name: str
    reserved: bool
    released: bool = False


class Admission:
    def __init__(self, account_limit: int, min_unreserved: int) -> None:
        self.account_limit = account_limit
        self.min_unreserved = min(min_unreserved, account_limit)
        self._reserved: dict[str, int] = {}
        self._running: dict[str, int] = {}
        self._unreserved_running = 0

    @property
    def unreserved_limit(self) -> int:
        return self.account_limit - sum(self._reserved.values())

    def reservation(self, function_name: str) -> int | None:
        return self._reserved.get(function_name)

    def can_reserve(self, function_name: str, amount: int) -> bool:
        """Whether reserving ``amount`` leaves the unreserved pool at or above its minimum."""
        others = sum(v for k, v in self._reserved.items() if k != function_name)
        return self.account_limit - others - amount >= self.min_unreserved

    def set_reservation(self, function_name: str, amount: int | None) -> None:
        if amount is None:
            self._reserved.pop(function_name, None)
        else:
            self._reserved[function_name] = amount

    def enter(self, function_name: str) -> Ticket:
        """Admit one invocation, or raise AWS's 429 with the limit that was hit."""
        reserved = self._reserved.get(function_name)
        running = self._running.get(function_name, 0)
        if reserved is not None:
            if running >= reserved:
                raise _throttled(RESERVED_LIMIT)
        elif self._unreserved_running >= self.unreserved_limit:
            raise _throttled(ACCOUNT_LIMIT)
        else:
            self._unreserved_running += 1
        self._running[function_name] = running + 1
        return Ticket(function_name, reserved is not None)

    def leave(self, ticket: Ticket) -> None:
        """End an admitted invocation. Safe to call twice."""
        if ticket.released:
            return
        ticket.released = True
        count = self._running.get(ticket.function_name, 1) - 1
        if count > 0:
            self._running[ticket.function_name] = count
        else:
            self._running.pop(ticket.function_name, None)
        if not ticket.reserved:
            self._unreserved_running -= 1

    def running(self, function_name: str | None = None) -> int:
        if function_name is None:
            return sum(self._running.values())
        return self._running.get(function_name, 0)


def _throttled(reason: str) -> TooManyRequestsException:
    return TooManyRequestsException("Rate Exceeded.", Reason=reason)
