"""The follow-up tick: escalate due households, reassign stalled visits, mark alerts complete."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.db.base import utcnow
from broadcaster.db.database import rowcount
from broadcaster.delivery.runtime import runtime
from broadcaster.flows import escalation
from broadcaster.followup.visits import reassign_overdue
from broadcaster.relay import escalation as relay
from broadcaster.reports.progress import record_final_times


def tick() -> dict[str, Any]:
    """One follow-up pass (idempotent; the tick runs once per interval across all workers)."""
    escalated = escalation.tick()
    rt = runtime()
    now = utcnow()
    with rt.db.transaction() as session:
        reassigned = reassign_overdue(session, now=now)
        completed = complete_alerts(session, now)
        final_times = sum(
            record_final_times(session, alert)
            for alert in session.scalars(select(Alert).where(Alert.state.in_(escalation.LIVE)))
        )
    relayed = relay.tick(rt, now=now)
    return {
        "escalated": escalated,
        "reassigned": reassigned,
        "completed": completed,
        "relay_tasks": relayed,
        "final_times": final_times,
    }


def complete_alerts(session: Session, now: dt.datetime) -> int:
    """An alert whose every household is final reports itself complete, once."""
    unfinished = exists().where(Recipient.alert_id == Alert.id, Recipient.state.in_(NOT_FINAL))
    result = session.execute(
        update(Alert)
        .where(
            Alert.completed_at.is_(None),
            Alert.state.in_(escalation.LIVE),
            Alert.households_targeted > 0,
            ~unfinished,
        )
        .values(completed_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
