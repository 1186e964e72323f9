"""The escalation tick: households not final when their next step is due get it — another
channel, or a door visit — set-based per alert and stage, safe with several workers."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Recipient, RecipientState
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.db.base import utcnow
from broadcaster.db.database import rowcount
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.delivery.runtime import runtime
from broadcaster.flows.planners import planner_for
from broadcaster.followup.steps import Escalation, escalation
from broadcaster.followup.visits import create_visits

log = logging.getLogger(__name__)
R = RecipientState
LIVE = (AlertState.sending, AlertState.active)


def due(alert_id: int, stage: int, now: dt.datetime) -> ColumnElement[bool]:
    """Households of one alert and stage whose next step is due and who are not final."""
    return and_(
        Recipient.alert_id == alert_id,
        Recipient.stage == stage,
        Recipient.next_action_at <= now,
        Recipient.state.in_(NOT_FINAL),
    )


def tick() -> dict[str, Any]:
    """One escalation pass; returns what it did, by alert."""
    rt = runtime()
    now = utcnow()
    with rt.db.read() as session:
        groups = session.execute(
            select(Recipient.alert_id, Recipient.stage)
            .join(Alert, Alert.id == Recipient.alert_id)
            .where(
                Recipient.next_action_at <= now,
                Recipient.state.in_(NOT_FINAL),
                Alert.state.in_(LIVE),
            )
            .group_by(Recipient.alert_id, Recipient.stage)
            .order_by(Recipient.alert_id, Recipient.stage)
        ).all()
    done: dict[str, Any] = {}
    for alert_id, stage in groups:
        with rt.db.transaction() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                continue
            result = advance(session, alert=alert, stage=stage, now=now)
        if result.get("channel"):
            try_enqueue_sends(
                rt.settings,
                rt.redis,
                alert_id=alert_id,
                level=alert.level,
                channel_counts={result["channel"]: result["deliveries"]},
            )
        done[f"{alert_id}:{stage}"] = result
    if done:
        log.info("escalation: %s", done)
    return done


def advance(session: Session, *, alert: Alert, stage: int, now: dt.datetime) -> dict[str, Any]:
    """Give one (alert, stage) group its step and move it to the next stage."""
    plan: Escalation = escalation(parse_policy(alert.policy))
    condition = due(alert.id, stage, now)
    if session.get_bind().dialect.name == "postgresql":  # a concurrent tick waits, then skips
        session.execute(select(Recipient.id).where(condition).with_for_update()).all()
    households = int(session.scalar(select(func.count()).where(condition)) or 0)
    if not households:
        return {"households": 0}
    step = plan.step(stage)
    result: dict[str, Any] = {"households": households}
    if step is not None and step.channel:
        before = _deliveries(session, alert.id, step.channel)
        planner_for(step.channel)(session, alert=alert, now=now, only=condition)
        result.update(
            channel=step.channel, deliveries=_deliveries(session, alert.id, step.channel) - before
        )
    elif step is not None:
        result["visits"] = create_visits(
            session,
            alert=alert,
            condition=condition,
            now=now,
            reassign_after=plan.reassign_after,
            reason="escalation",
        )
    issued = alert.round_started_at or now  # steps count from the round's start
    moved = session.execute(
        update(Recipient)
        .where(condition)
        .values(stage=stage + 1, next_action_at=plan.next_time(issued, stage + 1))
        .execution_options(synchronize_session=False)
    )
    result["moved"] = rowcount(moved)
    return result


def _deliveries(session: Session, alert_id: int, channel: str) -> int:
    from broadcaster.delivery.models import Delivery

    return int(
        session.scalar(
            select(func.count()).where(Delivery.alert_id == alert_id, Delivery.channel == channel)
        )
        or 0
    )
