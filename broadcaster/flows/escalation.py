"""The escalation tick: households not final when their next step is due get it — another
channel, or a door visit — set-based per alert and stage, safe with several workers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Level, Recipient, RecipientState
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database, rowcount
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.delivery.runtime import runtime
from broadcaster.flows.planners import planner_for
from broadcaster.followup.steps import Escalation, escalation
from broadcaster.followup.visits import create_visits

log = logging.getLogger(__name__)
R = RecipientState
LIVE = (AlertState.sending, AlertState.active)
CHUNK_HOUSEHOLDS = 50_000  # households escalated per transaction


def due(alert_id: int, stage: int, now: dt.datetime) -> ColumnElement[bool]:
    """Households of one alert and stage whose next step is due and who are not final."""
    return and_(
        Recipient.alert_id == alert_id,
        Recipient.stage == stage,
        Recipient.next_action_at <= now,
        Recipient.state.in_(NOT_FINAL),
    )


def tick() -> dict[str, Any]:
    """One escalation pass; returns what it did, by alert and stage."""
    rt = runtime()
    now = utcnow()
    done: dict[str, Any] = {}
    for alert_id, stage, priority in due_groups(rt.db, now):
        for level, result in escalate_group(rt.db, alert_id, stage, priority, now):
            if result.get("channel"):
                try_enqueue_sends(
                    rt.settings,
                    rt.redis,
                    alert_id=alert_id,
                    level=level,
                    channel_counts={result["channel"]: result["deliveries"]},
                )
            _add(done.setdefault(f"{alert_id}:{stage}", {}), result)
    if done:
        log.info("escalation: %s", done)
    return done


def due_groups(db: Database, now: dt.datetime) -> list[tuple[int, int, int]]:
    """(alert, stage, priority) of the households due now, the most urgent priority first."""
    with db.read() as session:
        rows = session.execute(
            select(Recipient.alert_id, Recipient.stage, Recipient.priority)
            .join(Alert, Alert.id == Recipient.alert_id)
            .where(
                Recipient.next_action_at <= now,
                Recipient.state.in_(NOT_FINAL),
                Alert.state.in_(LIVE),
            )
            .group_by(Recipient.alert_id, Recipient.stage, Recipient.priority)
            .order_by(Recipient.priority, Recipient.alert_id, Recipient.stage)
        ).all()
    return [(int(a), int(s), int(p)) for a, s, p in rows]


def escalate_group(
    db: Database, alert_id: int, stage: int, priority: int, now: dt.datetime
) -> Iterator[tuple[Level, dict[str, Any]]]:
    """Escalate one (alert, stage, priority) group, `CHUNK_HOUSEHOLDS` households (by id) per
    transaction, yielding each chunk's result once committed: a red alert's voice step for a
    million households held their rows, and the receipts behind them, for a minute in one."""
    after = 0
    same = Recipient.priority == priority
    while True:
        with db.transaction() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                return
            upto = _chunk_end(session, and_(due(alert_id, stage, now), same), after)
            ids = Recipient.id > after if upto is None else Recipient.id.between(after + 1, upto)
            result = advance(session, alert=alert, stage=stage, now=now, within=and_(same, ids))
            level = alert.level
        if result["households"]:  # the last chunk is empty when the group divides evenly
            yield level, result
        if upto is None:
            return
        after = upto


def _chunk_end(session: Session, group: ColumnElement[bool], after: int) -> int | None:
    """The id of the last household of the next chunk after `after`; None: the rest fit."""
    last = session.scalar(
        select(Recipient.id)
        .where(group, Recipient.id > after)
        .order_by(Recipient.id)
        .offset(CHUNK_HOUSEHOLDS - 1)
        .limit(1)
    )
    return None if last is None else int(last)


def _add(total: dict[str, Any], result: dict[str, Any]) -> None:
    """Sum one chunk's counts into its group's (the channel is the same in every chunk)."""
    for key, value in result.items():
        total[key] = total.get(key, 0) + value if isinstance(value, int) else value


def advance(
    session: Session,
    *,
    alert: Alert,
    stage: int,
    now: dt.datetime,
    within: ColumnElement[bool] | None = None,
) -> dict[str, Any]:
    """Give the households of one (alert, stage) that are due (and `within`, if given) their
    step and move them to the next stage."""
    plan: Escalation = escalation(parse_policy(alert.policy))
    condition = due(alert.id, stage, now)
    if within is not None:
        condition = and_(condition, within)
    if session.get_bind().dialect.name == "postgresql":  # a concurrent tick waits, then skips
        session.execute(select(Recipient.id).where(condition).with_for_update()).all()
    households = int(session.scalar(select(func.count()).where(condition)) or 0)
    if not households:
        return {"households": 0}
    step = plan.step(stage)
    result: dict[str, Any] = {"households": households}
    if step is not None and step.channel:
        before = _deliveries(session, alert.id, step.channel)
        # a step reaches households (escalation() refuses zone-wide channels), and the
        # household planners answer the alert's deliveries on the channel after their insert
        after = planner_for(step.channel)(session, alert=alert, now=now, only=condition)
        result.update(channel=step.channel, deliveries=after - before)
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
