"""The duty board's queues: households asking for help, alerts held for approval, speakers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Level, Recipient
from broadcaster.confirm.models import Confirmation, HelpRequest
from broadcaster.delivery.models import LoudspeakerTask, TaskState
from broadcaster.flows.approval import person
from broadcaster.flows.confirming import HELP_ORDER
from broadcaster.registry.models import Household, Loudspeaker, Worker
from broadcaster.registry.service import phones_by_household

LISTED = 30


@dataclass(frozen=True)
class HelpItem:
    id: int
    alert_id: int
    level: str
    household_code: str
    head_name: str
    address: str
    phones: list[str]
    vulnerable: bool
    opened_at: dt.datetime
    drill: bool = False
    via: str = ""
    text: str = ""  # what the household said or the field worker noted


@dataclass(frozen=True)
class SpeakerItem:
    id: int
    alert_id: int
    level: str
    headline: str
    drill: bool
    speaker: str
    operator: str | None
    created_at: dt.datetime


def help_queue(session: Session) -> tuple[int, list[HelpItem]]:
    """Open help requests, vulnerable households first, then oldest first (the first LISTED),
    and how many are open."""
    open_ = HelpRequest.handled_at.is_(None)
    total = int(session.scalar(select(func.count()).where(open_)) or 0)
    first = (
        select(HelpRequest.id)
        .join(Recipient, Recipient.id == HelpRequest.recipient_id)
        .where(open_)
        .order_by(*HELP_ORDER)
        .limit(LISTED)
        .scalar_subquery()
    )
    rows = session.execute(
        select(HelpRequest, Household, Alert, Recipient.is_vulnerable, Confirmation)
        .join(Recipient, Recipient.id == HelpRequest.recipient_id)
        .join(Confirmation, Confirmation.id == HelpRequest.confirmation_id)
        .join(Household, Household.id == Recipient.household_id)
        .join(Alert, Alert.id == HelpRequest.alert_id)
        .where(HelpRequest.id.in_(first))
        .order_by(*HELP_ORDER)
    ).all()
    phones = phones_by_household(session, [h.id for _r, h, *_ in rows])
    return total, [
        HelpItem(
            r.id,
            r.alert_id,
            alert.level.value,
            h.code,
            h.head_name,
            h.address,
            phones.get(h.id, []),
            bool(vulnerable),
            r.opened_at,
            alert.is_drill,
            said.via.value,
            said.text,
        )
        for r, h, alert, vulnerable, said in rows
    ]


def approvals(session: Session) -> list[Alert]:
    """Alerts held until an officer approves them, oldest first."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.state == AlertState.pending_approval)
            .order_by(Alert.id)
            .limit(LISTED)
        )
    )


def may_approve(alert: Alert, username: str) -> bool:
    """The two-person rule, as the API applies it: the creator cannot approve."""
    return person(alert.created_by) != f"user:{username}"


def speaker_tasks(session: Session) -> tuple[int, list[SpeakerItem]]:
    """Loudspeaker tasks not yet played: most urgent level first, then oldest."""
    open_ = LoudspeakerTask.state == TaskState.open
    total = int(session.scalar(select(func.count()).where(open_)) or 0)
    level_rank = {level: level.rank for level in Level}
    rows = session.execute(
        select(LoudspeakerTask, Alert, Loudspeaker, Worker.name)
        .join(Alert, Alert.id == LoudspeakerTask.alert_id)
        .join(Loudspeaker, Loudspeaker.id == LoudspeakerTask.loudspeaker_id)
        .outerjoin(Worker, Worker.id == Loudspeaker.operator_worker_id)
        .where(open_)
        .order_by(LoudspeakerTask.created_at, LoudspeakerTask.id)
        .limit(LISTED * 4)
    ).all()
    items = [
        SpeakerItem(
            t.id,
            a.id,
            a.level.value,
            a.headline,
            a.is_drill,
            s.name,
            operator,
            t.created_at,
        )
        for t, a, s, operator in rows
    ]
    items.sort(key=lambda i: (-level_rank[Level(i.level)], i.created_at))
    return total, items[:LISTED]
