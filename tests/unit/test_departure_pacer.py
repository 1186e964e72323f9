"""Chunks leave the loop at the credential's rate however late the loop gets to them, and a
loop that was idle sends at once (a past stall is never carried forward)."""

from __future__ import annotations

import asyncio

from broadcaster.delivery.pacing import DeparturePacer, Pace

PAGER = Pace("live:acme", rate=4.0, burst=4.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def departures(pacer: DeparturePacer, clock: Clock, chunks: list[int]) -> list[float]:
    left = []
    for count in chunks:
        asyncio.run(pacer.turn(PAGER, count))
        left.append(round(clock.now - 100.0, 3))
    return left


def test_a_backlog_after_a_stall_leaves_at_the_rate_after_one_burst() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    # granted 4, then 1 every 0.25 s by the shared bucket; the loop reaches them all at once
    assert departures(pacer, clock, [4, 1, 1, 1, 1]) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_an_idle_loop_sends_at_once_after_an_earlier_stall() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    departures(pacer, clock, [4, 4, 4])  # 2 s of backlog
    clock.now += 60  # nothing to send for a minute
    before = clock.now
    asyncio.run(pacer.turn(PAGER, 4))
    assert clock.now == before


def test_credentials_are_paced_apart() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    assert pacer.reserve(PAGER, 4) == 0
    assert pacer.reserve(Pace("live:other", 4.0, 4.0), 4) == 0  # its own bucket
    assert pacer.reserve(PAGER, 2) == 0.5


def test_a_fast_credential_never_waits_for_its_batches() -> None:
    clock = Clock()
    pacer = DeparturePacer(clock, clock.sleep)
    fast = Pace("live:twilio", rate=100_000.0, burst=100_000.0)
    assert all(pacer.reserve(fast, 500) == 0 for _ in range(100))
