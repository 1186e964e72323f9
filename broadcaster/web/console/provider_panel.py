"""The alert page's providers: what each carried, and how each has fared lately (health)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert
from broadcaster.alerts.schemas import ProviderCounts
from broadcaster.db.base import utcnow
from broadcaster.delivery.breaker import BreakerState
from broadcaster.delivery.breaker_board import BreakerView, read_board
from broadcaster.reports.providers import ProviderHealth, provider_counts, provider_health
from broadcaster.reports.tallies import tallies
from broadcaster.settings import Settings
from channels.registry import providers_of

RECENT = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class HealthRow:
    """One provider of one medium: its breaker as the workers tell, its recent attempts."""

    medium: str
    provider: str
    breaker: BreakerState | None  # None: no worker has reported its breaker
    breaker_since: dt.datetime | None
    health: ProviderHealth


@dataclass(frozen=True)
class ProviderPanel:
    carried: dict[str, ProviderCounts]
    health: list[HealthRow]
    minutes: int


def provider_panel(
    session: Session, alert: Alert, settings: Settings, client: redis.Redis | None
) -> ProviderPanel:
    """By provider for the alert, and each provider's health over the last minutes."""
    board = read_board(client, settings.queue_prefix, settings.delivery.breaker.open_seconds)
    seen = {
        (h.medium, h.provider): h
        for h in provider_health(session, alert_id=alert.id, since=utcnow() - RECENT)
    }
    for medium in alert.channels:  # a reported breaker shows even without recent attempts
        for provider, installed in providers_of(medium).items():
            if installed.name in board:
                seen.setdefault((medium, provider), ProviderHealth(medium, provider))
    rows = []
    for (medium, provider), health in seen.items():
        cls = providers_of(medium).get(provider)
        view: BreakerView | None = board.get(cls.name) if cls is not None else None
        rows.append(
            HealthRow(
                medium,
                provider,
                view.state if view else None,
                dt.datetime.fromtimestamp(view.since, dt.UTC) if view else None,
                health,
            )
        )
    rows.sort(key=lambda r: (r.breaker is not BreakerState.open, -r.health.failure_rate))
    return ProviderPanel(
        provider_counts(tallies(session, alert.id).attempts),
        rows,
        int(RECENT.total_seconds() // 60),
    )
