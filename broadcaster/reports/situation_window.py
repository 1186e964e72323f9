"""The alerts of a time window for a situation report: the window checked, drills left out."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, AlertStatus
from broadcaster.db.base import utcnow
from broadcaster.errors import ValidationFailed
from broadcaster.reports.export import given_time
from broadcaster.reports.situation import SituationReport, situation_report

NOT_SENT = (AlertState.draft, AlertState.pending_approval)
MAX_ALERTS = 1000
MAX_SPAN = dt.timedelta(days=366)


def window_alerts(
    session: Session, *, since: dt.datetime, until: dt.datetime, drills: bool, limit: int
) -> list[Alert]:
    """Alerts issued in [since, until), oldest first; drills only when asked for."""
    stmt = select(Alert).where(
        Alert.issued_at >= since, Alert.issued_at < until, Alert.state.not_in(NOT_SENT)
    )
    if not drills:
        stmt = stmt.where(Alert.status == AlertStatus.actual)
    return list(session.scalars(stmt.order_by(Alert.issued_at, Alert.id).limit(limit)))


def window(since: dt.datetime, until: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """The window asked for, checked: since before until, at most a year long."""
    start = given_time(since, "since")
    end = given_time(until, "until") if until is not None else utcnow()
    if end <= start:
        raise ValidationFailed("until 须晚于 since / until must be after since", field="until")
    if end - start > MAX_SPAN:
        raise ValidationFailed("时段不超过一年 / at most a year", field="since")
    return start, end


def window_report(
    session: Session, since: dt.datetime, until: dt.datetime | None, drills: bool
) -> SituationReport:
    """The report of every alert issued in the window (at most MAX_ALERTS)."""
    start, end = window(since, until)
    alerts = window_alerts(session, since=start, until=end, drills=drills, limit=MAX_ALERTS + 1)
    if len(alerts) > MAX_ALERTS:
        raise ValidationFailed(
            f"时段内预警超过 {MAX_ALERTS} 条，请缩短时段 / more than {MAX_ALERTS} alerts: "
            "narrow the window",
            field="since",
        )
    return situation_report(session, alerts, now=utcnow(), since=start, until=end)
