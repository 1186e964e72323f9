"""The circuit breaker: opens on a high error rate, holds traffic, probes, closes again."""

from __future__ import annotations

from broadcaster.delivery.breaker import Breaker, BreakerState
from broadcaster.settings import BreakerSettings
from channels.base import Outcome, SendResult


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


OK = SendResult(1, Outcome.accepted, "SM1")
ERROR = SendResult(1, Outcome.retry, error_code="20500")
TIMEOUT = SendResult(1, Outcome.unknown, error_code="timeout")
LIMITED = SendResult(1, Outcome.retry, error_code="20429", throttled=True)  # Twilio's 429
REFUSED = SendResult(1, Outcome.failed, error_code="21211")  # a bad number, not a sick provider
# a provider's own over-the-limit code, marked as such by its channel (Tencent's per number)
MARKED = SendResult(
    1, Outcome.retry, error_code="LimitExceeded.PhoneNumberThirtySecondLimit", throttled=True
)


def breaker(clock: Clock) -> Breaker:
    settings = BreakerSettings(
        window_seconds=10, min_requests=10, error_rate=0.6, open_seconds=5, probes=2
    )
    return Breaker(settings, clock)


def test_thirty_percent_errors_keep_it_closed() -> None:
    clock = Clock()
    b = breaker(clock)
    for n in range(100):
        b.record(ERROR if n % 10 < 2 else TIMEOUT if n % 10 == 2 else OK)
        clock.now += 0.01
    assert b.state is BreakerState.closed
    assert b.allow() == 0


def test_rate_limits_and_refusals_are_not_failures() -> None:
    b = breaker(Clock())
    for _ in range(50):
        b.record(LIMITED)
        b.record(REFUSED)
        b.record(MARKED)
    assert b.state is BreakerState.closed


def test_a_throttled_answer_is_not_counted_and_frees_a_probe() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(9):
        b.record(ERROR)
    for _ in range(50):
        b.record(MARKED)  # not successes either: they would dilute the error rate
    b.record(ERROR)
    assert b.state is BreakerState.open
    clock.now += 5.1
    assert b.allow() == 0
    assert b.allow() == 0
    assert b.allow() > 0  # both probes out
    b.record(MARKED)  # a probe answered "slow down": the provider lives, another probe may go
    assert b.state is BreakerState.half_open
    assert b.allow() == 0
    b.record(OK)
    b.record(OK)
    assert b.state is BreakerState.closed


def test_opens_holds_probes_and_closes() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(10):
        b.record(TIMEOUT)
    assert b.state is BreakerState.open
    assert 4.9 < b.allow() <= 5
    clock.now += 5.1
    assert b.allow() == 0  # two probes go
    assert b.allow() == 0
    assert b.allow() > 0  # the rest waits for their answers
    b.record(OK)
    b.record(OK)
    assert b.state is BreakerState.closed
    assert b.allow() == 0


def test_a_failed_probe_opens_it_again() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(10):
        b.record(ERROR)
    clock.now += 6
    assert b.allow() == 0
    b.record(ERROR)
    assert b.state is BreakerState.open
    assert b.opened == 2


def test_old_failures_leave_the_window() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(9):
        b.record(ERROR)
    clock.now += 11
    for _ in range(9):
        b.record(OK)
    b.record(ERROR)
    assert b.state is BreakerState.closed


def test_an_open_breaker_is_unavailable_until_its_time_is_served() -> None:
    clock = Clock()
    b = breaker(clock)
    assert b.available()
    for _ in range(10):
        b.record(ERROR)
    assert not b.available()  # the medium's next provider takes over
    clock.now += 4.9
    assert not b.available()
    clock.now += 0.2
    assert b.available()  # it may probe again
