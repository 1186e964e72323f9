"""The channel loop's own token bucket: a stalled send loop never bursts past the rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pace:
    """The rate a chunk's provider credential allows: its shared bucket's key, rate, burst."""

    key: str
    rate: float
    burst: float


@dataclass
class _Tokens:
    tokens: float
    at: float


class DeparturePacer:
    """The shared bucket grants chunks when the job hands them over; the channel loop sends
    them later. When that loop stalls (a busy machine), chunks granted a second apart would
    leave back to back and the provider would see a burst above its rate. Each chunk also
    takes its tokens from a bucket of the same rate and burst here, as it leaves: after a
    stall the backlog leaves at the rate, and an idle loop sends at once. Runs on the loop
    (one process; workers on other machines share only the Redis bucket)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._buckets: dict[str, _Tokens] = {}

    def reserve(self, pace: Pace, count: int) -> float:
        """Take `count` tokens (the bucket may go into debt); seconds until they are due."""
        now = self._clock()
        bucket = self._buckets.setdefault(pace.key, _Tokens(pace.burst, now))
        bucket.tokens = min(pace.burst, bucket.tokens + (now - bucket.at) * pace.rate) - count
        bucket.at = now
        return max(0.0, -bucket.tokens / pace.rate)

    async def turn(self, pace: Pace, count: int) -> None:
        """Wait until `count` sends may leave at the pace."""
        wait = self.reserve(pace, count)
        if wait > 0:
            await self._sleep(wait)
