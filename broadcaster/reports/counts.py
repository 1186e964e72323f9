"""Live counts of an alert, from its tallies: households by state in the current round (a
raised level or an evacuation order restarts them), deliveries by channel and state, and by
provider."""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, RecipientState
from broadcaster.alerts.schemas import AlertCounts, DeliveryCounts, GroupCounts
from broadcaster.alerts.states import CONCERNED, NOT_FINAL
from broadcaster.delivery.models import DeliveryState
from broadcaster.relay.service import group_counts
from broadcaster.reports.providers import provider_counts
from broadcaster.reports.tallies import tallies


def alert_counts(session: Session, alert: Alert) -> AlertCounts:
    """Counts straight from the record (the database, its tallies), never from a cache."""
    kept = tallies(session, alert.id)  # kept by the database's triggers: read by key
    by_state = {RecipientState(state): n for state, n in kept.households.items()}
    deliveries: dict[str, DeliveryCounts] = {}
    for (channel, state), count in sorted(kept.deliveries.items()):
        if not count:
            continue
        entry = deliveries.setdefault(channel, DeliveryCounts())
        entry.by_state[state] = count
        if state != DeliveryState.superseded:  # history: its resend is what counts
            entry.total += count

    def n(state: RecipientState) -> int:
        return int(by_state.get(state, 0))

    return AlertCounts(
        households_targeted=sum(v for k, v in by_state.items() if k in CONCERNED),
        households_reached=n(RecipientState.reached),
        households_confirmed=n(RecipientState.confirmed),
        households_needs_help=n(RecipientState.needs_help),
        households_unreachable=n(RecipientState.unreachable),
        households_visited=n(RecipientState.visited),
        households_pending=n(RecipientState.pending),
        households_released=n(RecipientState.released),
        revision=alert.revision,
        round=alert.round,
        households_without_channel=kept.households_without("c", CONCERNED),
        households_unaddressed=kept.households_without("wv", NOT_FINAL),
        deliveries=deliveries,
        groups=GroupCounts(**group_counts(session, alert.id)),
        by_provider=provider_counts(kept.attempts),
        lease_lost=alert.lease_lost,
    )


class CountsCache:
    """Counts reused for up to `max_age` seconds when computing them was slow.

    Counts read the alert's tallies by key (migration 0020): a few milliseconds at a million
    deliveries, so they are fresh (age 0). A count that still took longer than `slow`
    seconds (a busy database) is kept and served, with its age, until it is `max_age` old;
    readers of one alert wait for one computation instead of each repeating it.
    """

    def __init__(self, *, slow: float = 0.05, max_age: float = 1.0, size: int = 256) -> None:
        self.slow, self.max_age, self.size = slow, max_age, size
        self._entries: dict[int, tuple[AlertCounts, float]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, alert_id: int) -> threading.Lock:
        with self._guard:
            if alert_id not in self._locks and len(self._locks) >= self.size:
                self._locks.clear()
                self._entries.clear()
            return self._locks.setdefault(alert_id, threading.Lock())

    def get(self, session: Session, alert: Alert) -> tuple[AlertCounts, float]:
        """The alert's counts and their age in seconds (0 when computed now)."""
        with self._lock(alert.id):
            kept = self._entries.get(alert.id)
            if kept is not None and time.monotonic() - kept[1] <= self.max_age:
                return kept[0], time.monotonic() - kept[1]
            started = time.monotonic()
            counts = alert_counts(session, alert)
            if time.monotonic() - started > self.slow:
                self._entries[alert.id] = (counts, time.monotonic())
            else:
                self._entries.pop(alert.id, None)
            return counts, 0.0
