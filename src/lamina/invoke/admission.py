"""Concurrency accounting on one node: no invocation ever runs beyond its limit.

A function with reserved concurrency R may run at most R invocations at once, and no other
function may use those R. Provisioned concurrency P of a function counts against its limit:
inside R when it has a reservation (on-demand invocations then get R - P), else it is taken
from the unreserved pool, which every other function shares: the account limit minus all
reservations and the provisioned concurrency of functions without one (as GetAccountSettings'
UnreservedConcurrentExecutions reports). An invocation served by a provisioned environment is
admitted on that allocation and does not count against on-demand limits. Admission is decided
synchronously on the event loop, so a burst cannot slip past a limit between a check and its
increment; every check is O(1).
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.errors import TooManyRequestsException

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


@dataclass
class Ticket:
    function_name: str
    kind: str
    """``reserved``, ``unreserved`` or ``provisioned``: the pool the invocation counts in."""
    released: bool = False


class Admission:
    def __init__(self, account_limit: int, min_unreserved: int) -> None:
        self.account_limit = account_limit
        self.min_unreserved = min(min_unreserved, account_limit)
        self._reserved: dict[str, int] = {}
        self._provisioned: dict[str, int] = {}
        self._set_aside = 0
        """All reservations plus the provisioned concurrency of unreserved functions."""
        self._running: dict[str, int] = {}
        self._on_demand: dict[str, int] = {}
        self._unreserved_running = 0

    @property
    def unreserved_limit(self) -> int:
        return self.account_limit - self._set_aside

    def reservation(self, function_name: str) -> int | None:
        return self._reserved.get(function_name)

    def provisioned(self, function_name: str) -> int:
        """The function's provisioned concurrency, all versions and aliases together."""
        return self._provisioned.get(function_name, 0)

    def can_reserve(self, function_name: str, amount: int) -> bool:
        """Whether reserving ``amount`` leaves the unreserved pool at or above its minimum."""
        others = self._set_aside - self._aside(function_name)
        return self.account_limit - others - amount >= self.min_unreserved

    def can_provision(self, function_name: str, total: int) -> bool:
        """Whether an unreserved function may hold ``total`` provisioned concurrency and leave
        the unreserved pool at or above its minimum."""
        others = self._set_aside - self._aside(function_name)
        return self.account_limit - others - total >= self.min_unreserved

    def set_reservation(self, function_name: str, amount: int | None) -> None:
        self._set_aside -= self._aside(function_name)
        if amount is None:
            self._reserved.pop(function_name, None)
        else:
            self._reserved[function_name] = amount
        self._set_aside += self._aside(function_name)

    def set_provisioned(self, function_name: str, total: int) -> None:
        self._set_aside -= self._aside(function_name)
        if total:
            self._provisioned[function_name] = total
        else:
            self._provisioned.pop(function_name, None)
        self._set_aside += self._aside(function_name)

    def _aside(self, function_name: str) -> int:
        reserved = self._reserved.get(function_name)
        return reserved if reserved is not None else self._provisioned.get(function_name, 0)

    def enter(self, function_name: str) -> Ticket:
        """Admit one on-demand invocation, or raise AWS's 429 with the limit that was hit."""
        reserved = self._reserved.get(function_name)
        on_demand = self._on_demand.get(function_name, 0)
        if reserved is not None:
            if on_demand >= reserved - self._provisioned.get(function_name, 0):
                raise _throttled(RESERVED_LIMIT)
            kind = "reserved"
        elif self._unreserved_running >= self.unreserved_limit:
            raise _throttled(ACCOUNT_LIMIT)
        else:
            self._unreserved_running += 1
            kind = "unreserved"
        self._on_demand[function_name] = on_demand + 1
        self._running[function_name] = self._running.get(function_name, 0) + 1
        return Ticket(function_name, kind)

    def enter_provisioned(self, function_name: str) -> Ticket:
        """Admit an invocation a provisioned environment serves: its allocation is its limit."""
        self._running[function_name] = self._running.get(function_name, 0) + 1
        return Ticket(function_name, "provisioned")

    def leave(self, ticket: Ticket) -> None:
        """End an admitted invocation. Safe to call twice."""
        if ticket.released:
            return
        ticket.released = True
        name = ticket.function_name
        _decrement(self._running, name)
        if ticket.kind != "provisioned":
            _decrement(self._on_demand, name)
        if ticket.kind == "unreserved":
            self._unreserved_running -= 1

    def running(self, function_name: str | None = None) -> int:
        if function_name is None:
            return sum(self._running.values())
        return self._running.get(function_name, 0)


def _decrement(counts: dict[str, int], name: str) -> None:
    count = counts.get(name, 1) - 1
    if count > 0:
        counts[name] = count
    else:
        counts.pop(name, None)


def _throttled(reason: str) -> TooManyRequestsException:
    return TooManyRequestsException("Rate Exceeded.", Reason=reason)
