"""Duty shifts (值班) API: the roster, who is on duty with the open items, handovers, the log."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from broadcaster.api.deps import allow, get_db, read_session
from broadcaster.auth.models import Role, User
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.errors import NotFound, ValidationFailed
from broadcaster.flows.handover import acknowledge, hand_over
from broadcaster.plain_text import PlainText
from broadcaster.registry import roster
from broadcaster.registry.duty_models import DutyPost
from broadcaster.reports.export import given_time
from broadcaster.reports.handover_log import HEADER, log_rows
from broadcaster.reports.open_items import open_items
from broadcaster.reports.tables import table_bytes

router = APIRouter(prefix="/shifts", tags=["duty shifts"])
duty = allow(Role.officer, Role.admin)
MAX_ROSTER_SPAN = dt.timedelta(days=62)
LISTED = 500


class ShiftIn(BaseModel):
    """A turn on the roster; times without a zone are Beijing time."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=1, max_length=64, description="the officer's login")
    post: DutyPost = DutyPost.officer
    starts_at: dt.datetime
    ends_at: dt.datetime
    note: PlainText = Field(default="", max_length=500)


class ShiftOut(BaseModel):
    id: int
    username: str
    name: str
    post: DutyPost
    starts_at: dt.datetime
    ends_at: dt.datetime
    note: str
    cancelled_at: dt.datetime | None


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: PlainText = Field(default="", max_length=4000, description="交班说明")
    to: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The incoming officer's login (default: the next shift on the roster).",
    )

    @field_validator("to", mode="before")
    @classmethod
    def _blank_is_roster(cls, value: object) -> object:
        """An empty choice (the console's "by the roster") names nobody."""
        return None if value == "" else value


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: PlainText = Field(default="", max_length=2000, description="接班说明")


class HandoverOut(BaseModel):
    id: int
    from_username: str
    from_name: str
    to_username: str | None = Field(description="The incoming officer named; null: anyone.")
    to_name: str | None
    shift_id: int | None
    note: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_username: str | None
    acknowledged_name: str | None
    ack_note: str
    counts: dict[str, int] = Field(description="Open items at handover, by kind.")
    items: dict[str, list[dict[str, Any]]] = Field(description="The first 50 of each kind.")
    ack_counts: dict[str, int] | None = Field(description="Open items when acknowledged.")


class CurrentOut(BaseModel):
    now: dt.datetime
    on_duty: list[ShiftOut]
    next: list[ShiftOut] = Field(description="Shifts starting within 24 hours.")
    counts: dict[str, int]
    items: dict[str, list[dict[str, Any]]]
    pending_handovers: list[HandoverOut]


def _shift(turn: roster.Turn) -> ShiftOut:
    shift, user = turn
    return ShiftOut(
        id=shift.id,
        username=user.username,
        name=user.display_name or user.username,
        post=shift.post,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        note=shift.note,
        cancelled_at=shift.cancelled_at,
    )


def _handover(row: roster.HandoverRow) -> HandoverOut:
    h = row.handover

    def name(user: Any) -> str | None:
        return (user.display_name or user.username) if user is not None else None

    return HandoverOut(
        id=h.id,
        from_username=row.giver.username,
        from_name=row.giver.display_name or row.giver.username,
        to_username=row.named.username if row.named else None,
        to_name=name(row.named),
        shift_id=h.shift_id,
        note=h.note,
        created_at=h.created_at,
        acknowledged_at=h.acknowledged_at,
        acknowledged_username=row.taker.username if row.taker else None,
        acknowledged_name=name(row.taker),
        ack_note=h.ack_note,
        counts=dict(h.items.get("counts", {})),
        items=dict(h.items.get("items", {})),
        ack_counts=h.ack_counts,
    )


def _one(db: Database, handover_id: int) -> HandoverOut:
    with db.read() as session:
        found = roster.handovers(session, handover_id=handover_id, limit=1)
    if not found:
        raise NotFound(f"交接记录不存在 / no handover {handover_id}")
    return _handover(found[0])


@router.get("", response_model=list[ShiftOut])
def list_shifts(
    since: dt.datetime | None = Query(default=None, description="default: a day ago"),
    until: dt.datetime | None = Query(default=None, description="default: a week ahead"),
    session: Session = Depends(read_session),
    _: Principal = duty,
) -> list[ShiftOut]:
    """The roster: shifts overlapping [since, until) (at most 62 days), cancelled ones too."""
    now = utcnow()
    start = given_time(since, "since") if since else now - dt.timedelta(days=1)
    end = given_time(until, "until") if until else now + dt.timedelta(days=7)
    if end <= start or end - start > MAX_ROSTER_SPAN:
        raise ValidationFailed(
            "时段须在62天以内 / until after since, 62 days at most", field="until"
        )
    return [_shift(t) for t in roster.roster(session, since=start, until=end, limit=LISTED)]


@router.post("", response_model=ShiftOut, status_code=201)
def add_shift(body: ShiftIn, db: Database = Depends(get_db), who: Principal = duty) -> ShiftOut:
    """Put an officer on the roster (audited); overlapping one of theirs is a 409."""
    starts, ends = given_time(body.starts_at, "starts_at"), given_time(body.ends_at, "ends_at")
    with db.transaction() as session:
        shift = roster.add_shift(session, username=body.username, post=body.post,
                                 starts_at=starts, ends_at=ends, note=body.note,
                                 actor=who.actor)  # fmt: skip
        turn = (shift, session.get_one(User, shift.user_id))
        return _shift(turn)


@router.post("/{shift_id}/cancel", response_model=ShiftOut)
def cancel_shift(shift_id: Id, db: Database = Depends(get_db), who: Principal = duty) -> ShiftOut:
    """Take a shift off the roster (kept, marked cancelled; audited)."""
    with db.transaction() as session:
        shift = roster.cancel_shift(session, shift_id=shift_id, actor=who.actor, now=utcnow())
        return _shift((shift, session.get_one(User, shift.user_id)))


@router.get("/current", response_model=CurrentOut)
def current(session: Session = Depends(read_session), _: Principal = duty) -> CurrentOut:
    """Who is on duty now, who comes next, every open item, handovers not yet acknowledged."""
    now = utcnow()
    found = open_items(session)
    return CurrentOut(
        now=now,
        on_duty=[_shift(t) for t in roster.on_duty(session, now)],
        next=[_shift(t) for t in roster.next_turns(session, now, within=dt.timedelta(days=1))],
        counts=found.counts,
        items=found.items,
        pending_handovers=[_handover(r) for r in roster.handovers(session, pending=True)],
    )


@router.post("/handover", response_model=HandoverOut, status_code=201)
def handover(
    body: HandoverIn, db: Database = Depends(get_db), who: Principal = duty
) -> HandoverOut:
    """Hand the shift over: the note, and every open item attached as it stands now (alerts
    in progress, help requests, unplayed loudspeakers, escalated relays, open and flagged
    visits, alerts waiting for approval). The incoming officer is `to`, else the roster's."""
    with db.transaction() as session:
        made = hand_over(session, giver_id=who.user_id, to=body.to, note=body.note,
                         actor=who.actor, now=utcnow())  # fmt: skip
        made_id = made.id
    return _one(db, made_id)


@router.post("/handovers/{handover_id}/acknowledge", response_model=HandoverOut)
def acknowledge_handover(
    handover_id: Id,
    body: AcknowledgeIn | None = None,
    db: Database = Depends(get_db),
    who: Principal = duty,
) -> HandoverOut:
    """The incoming officer takes over (once; not the officer who handed over)."""
    with db.transaction() as session:
        acknowledge(session, handover_id=handover_id, taker_id=who.user_id,
                    note=body.note if body else "", actor=who.actor, now=utcnow())  # fmt: skip
    return _one(db, handover_id)


@router.get("/handovers/{handover_id}", response_model=HandoverOut)
def get_handover(
    handover_id: Id, db: Database = Depends(get_db), _: Principal = duty
) -> HandoverOut:
    return _one(db, handover_id)


@router.get("/handovers", response_model=list[HandoverOut])
def list_handovers(
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    pending: bool = False,
    format: Literal["json", "csv", "xlsx"] = "json",
    limit: int = Query(default=200, ge=1, le=5000),
    session: Session = Depends(read_session),
    _: Principal = duty,
) -> Response | list[HandoverOut]:
    """The handover log, newest first (`format=csv|xlsx` exports it with Chinese headers)."""
    start = given_time(since, "since") if since else None
    end = given_time(until, "until") if until else None
    rows = roster.handovers(session, since=start, until=end, pending=pending, limit=limit)
    if format == "json":
        return [_handover(r) for r in rows]
    body, media = table_bytes(format, "交接班记录", HEADER, log_rows(rows))
    disposition = f'attachment; filename="handovers.{format}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
