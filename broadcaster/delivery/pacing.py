"""Departures keep the spacing of their grants: a stalled send loop never bursts past the rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class _Track:
    granted: float  # when the last chunk to leave was granted (monotonic)
    departs: float  # when it left, or is due to


class DeparturePacer:
    """The shared token bucket grants chunks at the provider's rate when the job hands them
    over; the channel loop sends them later. When that loop stalls (a busy machine), chunks
    granted a second apart would leave back to back, and the provider would see a burst above
    its rate. Each chunk instead leaves no sooner after the one before it (same bucket) than
    it was granted after it, so any stretch of departures holds no more than the bucket
    granted in a stretch as long. Lives on the channel loop (one process; workers on other
    machines share only the bucket)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._tracks: dict[str, _Track] = {}

    def slot(self, bucket: str, granted: float) -> float:
        """Reserve the chunk's departure time (monotonic): now, or later to keep the gap."""
        now = self._clock()
        track = self._tracks.get(bucket)
        if track is None:
            departs = now
        else:
            departs = max(now, track.departs + max(0.0, granted - track.granted))
        if track is None or granted >= track.granted:
            self._tracks[bucket] = _Track(granted, departs)
        else:  # handed over out of grant order: keep the later grant as the reference
            track.departs = max(track.departs, departs)
        return departs

    async def turn(self, bucket: str, granted: float) -> None:
        """Wait until the chunk granted at `granted` may leave."""
        wait = self.slot(bucket, granted) - self._clock()
        if wait > 0:
            await self._sleep(wait)
