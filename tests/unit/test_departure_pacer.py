"""Chunks leave no closer together than they were granted, however late the loop gets to them."""

from __future__ import annotations

import asyncio

from broadcaster.delivery.pacing import DeparturePacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_chunks_granted_a_second_apart_leave_a_second_apart_after_a_stall() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    granted = [100.0, 101.0, 102.0]
    clock.now = 103.5  # the loop stalled: all three reach it now
    departures = []
    for g in granted:
        asyncio.run(pacer.turn("live:k", g))
        departures.append(clock.now)
    assert departures == [103.5, 104.5, 105.5]


def test_a_loop_on_time_sends_at_once() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    for g in (100.0, 101.0, 102.0):
        clock.now = g + 0.01
        asyncio.run(pacer.turn("live:k", g))
    assert clock.slept == []


def test_buckets_are_paced_apart() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    clock.now = 105.0
    assert pacer.slot("live:a", 100.0) == 105.0
    assert pacer.slot("live:b", 101.0) == 105.0  # another credential: its own gap
    assert pacer.slot("live:a", 101.0) == 106.0


def test_a_chunk_handed_over_out_of_grant_order_does_not_pull_later_ones_forward() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    clock.now = 110.0
    assert pacer.slot("k", 102.0) == 110.0
    assert pacer.slot("k", 101.0) == 110.0  # granted earlier, arrived later: goes now
    assert pacer.slot("k", 103.0) == 111.0  # a second after the latest grant's departure
