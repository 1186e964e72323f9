"""What a shift hands on (交接班): every kind of open item counted, the first of each listed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, Recipient
from broadcaster.alerts.states import FINAL
from broadcaster.confirm.models import Confirmation, HelpRequest
from broadcaster.db.base import Base
from broadcaster.delivery.models import LoudspeakerTask, TaskState
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Group, Household, Loudspeaker, Worker
from broadcaster.relay.models import RelayState, RelayTask

LISTED = 50  # of each kind, the most urgent or oldest; every one is counted
KINDS = (
    "alerts_in_progress",
    "approvals_waiting",
    "help_open",
    "speakers_unplayed",
    "relay_escalated",
    "visits_open",
    "visits_flagged",
)
OPEN_VISIT = (VisitState.open, VisitState.in_progress)


@dataclass
class OpenItems:
    """Counts of each kind, and the first LISTED of each as JSON-ready dicts."""

    counts: dict[str, int] = field(default_factory=dict)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(v for k, v in self.counts.items() if k != "visits_flagged")

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "items": self.items}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _count(session: Session, table: type[Base], *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _alerts(session: Session) -> list[dict[str, Any]]:
    live = list(
        session.scalars(
            select(Alert)
            .where(Alert.state.in_((AlertState.sending, AlertState.active)))
            .order_by(Alert.id.desc())
            .limit(LISTED)
        )
    )
    done = {
        alert_id: (int(n), int(final or 0))
        for alert_id, n, final in session.execute(
            select(
                Recipient.alert_id,
                func.count(),
                func.sum(case((Recipient.state.in_(FINAL), 1), else_=0)),
            )
            .where(Recipient.alert_id.in_([a.id for a in live]))
            .group_by(Recipient.alert_id)
        )
    }
    return [
        {"id": a.id, "headline": a.headline, "level": a.level.value, "exercise": a.is_drill,
         "state": a.state.value, "issued_at": _iso(a.issued_at),
         "households": done.get(a.id, (0, 0))[0], "final": done.get(a.id, (0, 0))[1]}
        for a in live
    ]  # fmt: skip


def _approvals(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Alert)
        .where(Alert.state == AlertState.pending_approval)
        .order_by(Alert.id)
        .limit(LISTED)
    )
    return [
        {"id": a.id, "headline": a.headline, "level": a.level.value, "exercise": a.is_drill,
         "created_by": a.created_by, "created_at": _iso(a.created_at)}
        for a in rows
    ]  # fmt: skip


def _help(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(HelpRequest, Household, Confirmation)
        .join(Recipient, Recipient.id == HelpRequest.recipient_id)
        .join(Household, Household.id == Recipient.household_id)
        .join(Confirmation, Confirmation.id == HelpRequest.confirmation_id)
        .where(HelpRequest.handled_at.is_(None))
        .order_by(HelpRequest.opened_at, HelpRequest.id)
        .limit(LISTED)
    )
    return [
        {"id": r.id, "alert_id": r.alert_id, "household_code": h.code, "head_name": h.head_name,
         "address": h.address, "via": c.via.value, "text": c.text[:200],
         "opened_at": _iso(r.opened_at)}
        for r, h, c in rows
    ]  # fmt: skip


def _speakers(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(LoudspeakerTask, Loudspeaker.name, Worker.name)
        .join(Loudspeaker, Loudspeaker.id == LoudspeakerTask.loudspeaker_id)
        .outerjoin(Worker, Worker.id == Loudspeaker.operator_worker_id)
        .where(LoudspeakerTask.state == TaskState.open)
        .order_by(LoudspeakerTask.created_at, LoudspeakerTask.id)
        .limit(LISTED)
    )
    return [
        {"id": t.id, "alert_id": t.alert_id, "speaker": name, "operator": operator,
         "created_at": _iso(t.created_at)}
        for t, name, operator in rows
    ]  # fmt: skip


def _relays(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(RelayTask, Group.name)
        .join(Group, Group.id == RelayTask.group_id)
        .where(RelayTask.state == RelayState.escalated)
        .order_by(RelayTask.escalated_at, RelayTask.id)
        .limit(LISTED)
    )
    return [
        {"id": t.id, "alert_id": t.alert_id, "group": name, "owner_phone": t.owner_phone,
         "escalated_at": _iso(t.escalated_at)}
        for t, name in rows
    ]  # fmt: skip


def _visits(session: Session, *, flagged: bool) -> list[dict[str, Any]]:
    stmt = (
        select(VisitTask, Household, Worker.name)
        .join(Household, Household.id == VisitTask.household_id)
        .outerjoin(Worker, Worker.id == VisitTask.worker_id)
        .where(VisitTask.state.in_(OPEN_VISIT))
    )
    if flagged:
        stmt = stmt.where(VisitTask.flagged.is_(True))
    rows = session.execute(stmt.order_by(VisitTask.priority, VisitTask.id).limit(LISTED))
    return [
        {"id": t.id, "alert_id": t.alert_id, "household_code": h.code, "head_name": h.head_name,
         "address": h.address, "worker": worker, "state": t.state.value, "flagged": t.flagged,
         "due_at": _iso(t.due_at)}
        for t, h, worker in rows
    ]  # fmt: skip


def open_counts(session: Session) -> dict[str, int]:
    """How many of each kind are open now (one count each)."""
    live = Alert.state.in_((AlertState.sending, AlertState.active))
    open_visit = VisitTask.state.in_(OPEN_VISIT)
    unplayed = LoudspeakerTask.state == TaskState.open
    return {
        "alerts_in_progress": _count(session, Alert, live),
        "approvals_waiting": _count(session, Alert, Alert.state == AlertState.pending_approval),
        "help_open": _count(session, HelpRequest, HelpRequest.handled_at.is_(None)),
        "speakers_unplayed": _count(session, LoudspeakerTask, unplayed),
        "relay_escalated": _count(session, RelayTask, RelayTask.state == RelayState.escalated),
        "visits_open": _count(session, VisitTask, open_visit),
        "visits_flagged": _count(session, VisitTask, open_visit, VisitTask.flagged.is_(True)),
    }


def open_items(session: Session) -> OpenItems:
    """Every kind counted, and the first of each listed (a snapshot for a handover)."""
    return OpenItems(
        counts=open_counts(session),
        items={
            "alerts_in_progress": _alerts(session),
            "approvals_waiting": _approvals(session),
            "help_open": _help(session),
            "speakers_unplayed": _speakers(session),
            "relay_escalated": _relays(session),
            "visits_open": _visits(session, flagged=False),
            "visits_flagged": _visits(session, flagged=True),
        },
    )
