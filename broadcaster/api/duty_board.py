"""Duty-board API: help requests and inbound replies nobody could match."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.api.deps import allow, get_db, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.confirm.models import Answer, Confirmation, HelpRequest, InboundMessage
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.flows.confirming import HELP_ORDER, handle_help_request
from broadcaster.plain_text import PlainText
from broadcaster.registry.logins import actor_names
from broadcaster.registry.models import Household
from broadcaster.registry.service import phones_by_household

router = APIRouter(tags=["duty board"])
duty = allow(Role.officer, Role.admin)


class HelpRequestOut(BaseModel):
    id: int
    alert_id: int
    exercise: bool = Field(description="A drill's help request (演练).")
    via: str = Field(description="How the household asked: sms_reply, keypress, link, visit…")
    by: str
    by_name: str | None = Field(description="The field worker who found it, by name.")
    text: str = Field(description="What was said or noted (a field worker's notes).")
    household_code: str
    head_name: str
    address: str
    phones: list[str]
    opened_at: dt.datetime
    handled_at: dt.datetime | None
    handled_by: str | None
    note: str


class HandleIn(BaseModel):
    note: PlainText = Field(default="", max_length=1000)


class InboundOut(BaseModel):
    id: int
    sender: str
    body: str
    alert_id: int | None
    answer: Answer | None
    at: dt.datetime


@router.get("/help-requests", response_model=list[HelpRequestOut])
def help_requests(
    open_only: bool = Query(default=True, alias="open"),
    session: Session = Depends(read_session),
    _: Principal = duty,
) -> list[HelpRequestOut]:
    """Households asking for help: vulnerable households first, then oldest first."""
    stmt = (
        select(HelpRequest, Household, Alert, Confirmation)
        .join(Recipient, Recipient.id == HelpRequest.recipient_id)
        .join(Household, Household.id == Recipient.household_id)
        .join(Alert, Alert.id == HelpRequest.alert_id)
        .join(Confirmation, Confirmation.id == HelpRequest.confirmation_id)
        .order_by(*HELP_ORDER)
    )
    if open_only:
        stmt = stmt.where(HelpRequest.handled_at.is_(None))
    rows = session.execute(stmt).all()
    household_ids = [h.id for _r, h, _a, _c in rows]
    names = actor_names(session, {c.by for _r, _h, _a, c in rows})
    phones = phones_by_household(session, household_ids)
    return [
        HelpRequestOut(
            id=r.id,
            alert_id=r.alert_id,
            exercise=a.is_drill,
            via=c.via.value,
            by=c.by,
            by_name=names.get(c.by),
            text=c.text,
            household_code=h.code,
            head_name=h.head_name,
            address=h.address,
            phones=phones.get(h.id, []),
            opened_at=r.opened_at,
            handled_at=r.handled_at,
            handled_by=r.handled_by,
            note=r.note,
        )
        for r, h, a, c in rows
    ]


@router.post("/help-requests/{request_id}/handle", response_model=HelpRequestOut)
def handle(
    request_id: Id, body: HandleIn, db: Database = Depends(get_db), who: Principal = duty
) -> HelpRequestOut:
    """Mark a help request as dealt with."""
    with db.transaction() as session:
        handle_help_request(
            session, request_id=request_id, actor=who.actor, note=body.note, now=utcnow()
        )
    with db.read() as session:
        return next(r for r in help_requests(False, session, who) if r.id == request_id)


@router.get("/inbound-messages", response_model=list[InboundOut])
def inbound_messages(
    unmatched: bool = False,
    limit: int = Query(default=100, ge=1, le=1000),
    session: Session = Depends(read_session),
    _: Principal = duty,
) -> list[InboundMessage]:
    """Replies received, newest first; `unmatched=true` for those no alert or keyword explains."""
    stmt = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if unmatched:
        stmt = stmt.where((InboundMessage.alert_id.is_(None)) | (InboundMessage.answer.is_(None)))
    return list(session.scalars(stmt))
