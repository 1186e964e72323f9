"""Factories for alerts: issue one through the service, and fake what a worker would record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from broadcaster.alerts.models import AlertSource
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import Actor
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.flows.issuing import Issued, issue_alert
from broadcaster.settings import Settings

RED_RAIN: dict[str, Any] = {
    "hazard": "rain",
    "level": "red",
    "headline": "暴雨红色预警",
    "body": "预计未来3小时降雨量将达100毫米以上。",
    "instruction": "请立即转移到安全地带。",
    "channels": ["sms"],  # the red policy would add voice, WeCom and loudspeakers
}


def issue(
    db: Database,
    settings: Settings,
    *,
    zones: list[str],
    available: set[str] | None = None,
    **overrides: Any,
) -> Issued:
    """An alert planned in the database (no job enqueued)."""
    body = AlertIn.model_validate({**RED_RAIN, "zones": zones, **overrides})
    with db.transaction() as session:
        return issue_alert(
            session,
            body=body,
            actor=Actor("test"),
            source=AlertSource.officer,
            settings=settings,
            available_channels=available or {"sms"},
        )


def mark_sent(db: Database, alert_id: int) -> dict[int, str]:
    """Record every delivery of the alert as handed to the provider; {delivery id: sid}."""
    with db.transaction() as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.alert_id == alert_id)))
        sids = {i: f"SM{i:032x}" for i in ids}
        for delivery_id, sid in sids.items():
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(state=DeliveryState.sent, provider_id=sid, sent_at=utcnow())
            )
    return sids
