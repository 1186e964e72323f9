"""What each provider carried for an alert, and how providers fared lately (their health)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.schemas import ProviderCounts
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState

S = DeliveryState
A = DeliveryAttempt
# An attempt the provider took: it gave the message an id, or said it was sent or delivered.
_ACCEPTED = case(
    (A.provider_message_id.is_not(None) | A.outcome.in_((S.sent, S.delivered)), 1), else_=0
)
# Not the provider's fault: our own holds and limits, not sent at all.
HOLDS = ("rate_limited", "number_limit", "circuit_open", "redis_unavailable")


ACCEPTED, DELIVERED, FAILED, UNKNOWN = "accepted", "delivered", "failed", "unknown"


def _category(outcome: S, error: str | None) -> str | None:
    """What an attempt's outcome says of its provider, beside whether it was accepted."""
    if outcome is S.delivered:
        return DELIVERED
    if outcome is S.failed or (error and error not in HOLDS):
        return FAILED
    return UNKNOWN if outcome is S.unknown else None


def attempt_counts(session: Session, alert_id: int) -> Counter[tuple[str, str, str]]:
    """Attempts of the alert by (provider, medium, category): accepted (it took the message),
    and delivered, failed (refused — for good, or for now and sent again, perhaps by the next
    provider — or reported failed) or unknown. Counted from the rows; the tallies keep the
    same figures (migration 0021 mirrors this function and HOLDS)."""
    refused = case((A.outcome == S.superseded, A.error_code), else_=None)  # retried elsewhere
    rows = session.execute(
        select(A.provider, Delivery.channel, A.outcome, _ACCEPTED, refused, func.count())
        .join(Delivery, Delivery.id == A.delivery_id)
        .where(Delivery.alert_id == alert_id)
        .group_by(A.provider, Delivery.channel, A.outcome, _ACCEPTED, refused)
    )
    found: Counter[tuple[str, str, str]] = Counter()
    for provider, medium, outcome, accepted, error, count in rows:
        if accepted:
            found[(provider, medium, ACCEPTED)] += count
        category = _category(outcome, error)
        if category:
            found[(provider, medium, category)] += count
    return found


def provider_counts(attempts: Counter[tuple[str, str, str]]) -> dict[str, ProviderCounts]:
    """Per provider: deliveries carried (its attempt accepted), attempts accepted,
    delivered, failed, unknown; carried per medium."""
    found: dict[str, ProviderCounts] = {}
    for (provider, medium, category), count in sorted(attempts.items()):
        if not count:
            continue
        entry = found.setdefault(provider, ProviderCounts())
        if category == ACCEPTED:
            entry.carried += count
            entry.accepted += count
            entry.media[medium] = entry.media.get(medium, 0) + count
        elif category == DELIVERED:
            entry.delivered += count
        elif category == FAILED:
            entry.failed += count
        else:
            entry.unknown += count
    return dict(sorted(found.items()))


@dataclass
class ProviderHealth:
    """A provider's recent attempts on one medium: taken, refused or failed, fate unknown,
    held back by us; its last failure."""

    medium: str
    provider: str
    attempts: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    held: int = 0
    last_failure_at: dt.datetime | None = None
    last_error: str | None = None
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def failure_rate(self) -> float:
        """Failed and unknown among the attempts that reached the provider."""
        reached = self.attempts - self.held
        return (self.failed + self.unknown) / reached if reached > 0 else 0.0


def provider_health(session: Session, *, alert_id: int, since: dt.datetime) -> list[ProviderHealth]:
    """Each provider's attempts at the alert's deliveries since `since`, per medium, worst
    first (the alert's deliveries are indexed; the whole log is not, by time)."""
    found: dict[tuple[str, str], ProviderHealth] = {}
    rows = session.execute(
        select(
            Delivery.channel,
            A.provider,
            A.outcome,
            A.error_code,
            _ACCEPTED,
            func.count(),
            func.max(A.requested_at),
        )
        .join(Delivery, Delivery.id == A.delivery_id)
        .where(Delivery.alert_id == alert_id, A.requested_at >= since)
        .group_by(Delivery.channel, A.provider, A.outcome, A.error_code, _ACCEPTED)
    )
    for medium, provider, outcome, error, accepted, count, last in rows:
        key = (medium, provider)
        entry = found.setdefault(key, ProviderHealth(medium, provider))
        entry.attempts += count
        if error in HOLDS and outcome is S.superseded:
            entry.held += count
            continue
        entry.accepted += count if accepted else 0
        failed = outcome is S.failed or (outcome is S.superseded and error not in HOLDS)
        if outcome is S.unknown or failed:
            entry.unknown += count if outcome is S.unknown else 0
            entry.failed += count if failed else 0
            if error:
                entry.errors[error] = entry.errors.get(error, 0) + count
            if entry.last_failure_at is None or (last is not None and last > entry.last_failure_at):
                entry.last_failure_at, entry.last_error = last, error
    return sorted(found.values(), key=lambda h: (-h.failure_rate, h.medium, h.provider))
