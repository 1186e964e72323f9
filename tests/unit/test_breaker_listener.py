"""A breaker tells its listener each change of state — open, half-open, closed — once, so
workers can show the console how their breakers stand."""

from __future__ import annotations

from broadcaster.delivery.breaker import Breaker, BreakerState
from broadcaster.settings import BreakerSettings
from channels.base import Outcome, SendResult
from tests.unit.test_breaker import ERROR, OK, Clock


def test_each_change_of_state_is_told_once() -> None:
    clock = Clock()
    told: list[tuple[BreakerState, int]] = []
    settings = BreakerSettings(
        window_seconds=10, min_requests=4, error_rate=0.5, open_seconds=5, probes=1
    )
    b = Breaker(settings, clock, listener=lambda state, opened: told.append((state, opened)))
    for _ in range(3):
        b.record(OK)
    assert told == []
    for _ in range(4):
        b.record(ERROR)
    assert told == [(BreakerState.open, 1)]
    assert b.allow() > 0
    b.record(SendResult(1, Outcome.retry, error_code="circuit_open"))  # held: not counted
    assert told == [(BreakerState.open, 1)]
    clock.now += 5
    assert b.allow() == 0  # a probe
    b.record(OK)
    assert told == [
        (BreakerState.open, 1),
        (BreakerState.half_open, 1),
        (BreakerState.closed, 1),
    ]
