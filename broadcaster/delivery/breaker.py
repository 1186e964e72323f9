"""Circuit breakers per provider credential: a provider that fails most requests gets a few
probes instead of traffic until it recovers; what it was not sent waits, queued."""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable

from broadcaster.settings import BreakerSettings
from channels.base import Outcome, SendResult

CIRCUIT_OPEN = "circuit_open"  # the error code of an item a breaker held (channels.base.held)
# Our own holds: nothing reached the provider.
NOT_FAILURES = frozenset({"rate_limited", "number_limit", CIRCUIT_OPEN})


class BreakerState(enum.StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


def is_failure(result: SendResult) -> bool:
    """A timeout, a 5xx or a connection failure; a definite refusal of one message is not,
    nor an answer the provider's channel marks `throttled` (its own code for "this number,
    or this account, is over its rate"), nor our own holds."""
    if result.outcome is Outcome.unknown:
        return True
    if result.throttled:
        return False
    return result.outcome is Outcome.retry and result.error_code not in NOT_FAILURES


class Breaker:
    """Closed: everything goes, outcomes are counted over a rolling window. Open: nothing
    goes for `open_seconds`. Half-open: `probes` requests go; all fine closes it, one
    failure opens it again. Thread-safe; shared by every send of one process."""

    def __init__(
        self,
        settings: BreakerSettings,
        clock: Callable[[], float] = time.monotonic,
        listener: Callable[[BreakerState, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.listener = listener  # told each change of state (and how often it opened)
        self._changed = False
        self.state = BreakerState.closed
        self.opened = 0  # how many times it opened
        self._events: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at = 0.0
        self._probes_out = 0
        self._probes_ok = 0
        self._lock = threading.Lock()

    def allow(self) -> float:
        """0 when a request may go now, else the seconds to hold it back."""
        try:
            return self._allow()
        finally:
            self._tell()

    def _allow(self) -> float:
        with self._lock:
            now = self.clock()
            if self.state is BreakerState.open:
                remaining = self._opened_at + self.settings.open_seconds - now
                if remaining > 0:
                    return remaining
                self.state = BreakerState.half_open
                self._changed = True
                self._probes_out = self._probes_ok = 0
            if self.state is BreakerState.half_open:
                if self._probes_out < self.settings.probes:
                    self._probes_out += 1
                    return 0.0
                return self.settings.open_seconds / 2
            return 0.0

    def available(self) -> bool:
        """Whether requests may go (closed, half-open, or open with its time served): a
        medium's next provider takes over while this one is open."""
        with self._lock:
            if self.state is not BreakerState.open:
                return True
            return self.clock() >= self._opened_at + self.settings.open_seconds

    def record(self, result: SendResult) -> None:
        """Count one provider answer. Held items never reached it and are not counted; nor is
        a `throttled` answer (the provider is well, only busy), except that a half-open
        breaker's probe answered so frees its place for another probe."""
        if result.error_code == CIRCUIT_OPEN:
            return
        if result.throttled:
            with self._lock:
                if self.state is BreakerState.half_open and self._probes_out > 0:
                    self._probes_out -= 1
            return
        try:
            self._record(result)
        finally:
            self._tell()

    def _tell(self) -> None:
        """Tell the listener of a change, outside the lock (it may write to Redis)."""
        if self.listener is None or not self._changed:
            return
        with self._lock:
            state, opened, self._changed = self.state, self.opened, False
        self.listener(state, opened)

    def _record(self, result: SendResult) -> None:
        failed = is_failure(result)
        with self._lock:
            now = self.clock()
            if self.state is BreakerState.half_open:
                if failed:
                    self._open(now)
                else:
                    self._probes_ok += 1
                    if self._probes_ok >= self.settings.probes:
                        self._close()
                return
            if self.state is BreakerState.open:
                return  # answers to requests sent before it opened
            self._events.append((now, failed))
            self._failures += failed
            horizon = now - self.settings.window_seconds
            while self._events and self._events[0][0] < horizon:
                self._failures -= self._events.popleft()[1]
            total = len(self._events)
            if total >= self.settings.min_requests and (
                self._failures >= self.settings.error_rate * total
            ):
                self._open(now)

    def _open(self, now: float) -> None:
        self.state = BreakerState.open
        self._changed = True
        self.opened += 1
        self._opened_at = now
        self._events.clear()
        self._failures = 0

    def _close(self) -> None:
        self.state = BreakerState.closed
        self._changed = True
        self._events.clear()
        self._failures = 0
