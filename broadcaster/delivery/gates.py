"""The breaker as a channel's gate: it counts a lease's requests as they go, and says how
long held items wait (briefly when another provider of the medium can take them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from broadcaster.delivery.breaker import CIRCUIT_OPEN, Breaker
from channels.base import SendResult

FAILOVER_WAIT = 0.5  # seconds a held item waits when another provider can take it


class Dispatching(Protocol):
    dispatched: int  # requests of the lease that went out


def with_cause(result: SendResult, refusal: SendResult | None) -> SendResult:
    """A held item the provider had refused: its attempt records the refusal (it waits as
    held items do)."""
    if refusal is None or result.error_code != CIRCUIT_OPEN:
        return result
    return replace(result, error_code=refusal.error_code, message=refusal.message)


class CountingGate:
    """The breaker as the channel's gate, counting the requests of one lease as they go."""

    def __init__(
        self, breaker: Breaker, lease: Dispatching, elsewhere: Callable[[], bool] | None = None
    ) -> None:
        self.breaker = breaker
        self.lease = lease
        self.elsewhere = elsewhere

    def allow(self) -> float:
        self.lease.dispatched += 1
        wait = self.breaker.allow()
        if wait and self.elsewhere is not None and self.elsewhere():
            return min(wait, FAILOVER_WAIT)
        return wait
