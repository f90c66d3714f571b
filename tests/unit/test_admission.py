"""Admission arithmetic with reserved and provisioned concurrency (no I/O)."""

from __future__ import annotations

import pytest

from lamina.errors import TooManyRequestsException
from lamina.invoke.admission import ACCOUNT_LIMIT, RESERVED_LIMIT, Admission


def reason(raised: pytest.ExceptionInfo[TooManyRequestsException]) -> object:
    return raised.value.extra["Reason"]


def test_provisioned_concurrency_of_an_unreserved_function_shrinks_the_unreserved_pool():
    admission = Admission(account_limit=1000, min_unreserved=100)

    admission.set_provisioned("fn", 30)
    admission.set_reservation("other", 70)

    assert admission.unreserved_limit == 900
    assert admission.can_provision("fn", 830)  # leaves 1000 - 70 - 830 = 100
    assert not admission.can_provision("fn", 831)
    assert admission.can_reserve("other", 870)  # leaves 1000 - 30 - 870 = 100
    assert not admission.can_reserve("other", 871)


def test_a_reservation_contains_the_function_s_provisioned_concurrency():
    admission = Admission(account_limit=1000, min_unreserved=100)
    admission.set_provisioned("fn", 3)
    admission.set_reservation("fn", 5)

    tickets = [admission.enter("fn"), admission.enter("fn")]
    with pytest.raises(TooManyRequestsException) as raised:
        admission.enter("fn")
    provisioned = [admission.enter_provisioned("fn") for _ in range(3)]

    assert reason(raised) == RESERVED_LIMIT
    assert admission.unreserved_limit == 995
    assert admission.running("fn") == 5
    for ticket in tickets + provisioned:
        admission.leave(ticket)
        admission.leave(ticket)  # a second leave changes nothing
    assert admission.running("fn") == 0


def test_provisioned_invocations_do_not_use_the_unreserved_pool():
    admission = Admission(account_limit=2, min_unreserved=1)
    admission.set_provisioned("fn", 1)

    served = admission.enter_provisioned("fn")
    on_demand = admission.enter("other")
    with pytest.raises(TooManyRequestsException) as raised:
        admission.enter("fn")

    assert reason(raised) == ACCOUNT_LIMIT
    admission.leave(on_demand)
    admission.leave(served)
    admission.set_provisioned("fn", 0)
    assert admission.unreserved_limit == 2
