"""Recording confirmations: forward-only household states, queued sends withdrawn, help opened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.alerts.states import may_move
from broadcaster.auth.audit import Actor, record
from broadcaster.confirm.models import Answer, Confirmation, ConfirmVia, HelpRequest
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.errors import InvalidState, NotFound
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Person

R = RecipientState
# Which household states each answer may move from (DESIGN §3.4: states only move forward).
OPEN_VISITS = (VisitState.open, VisitState.in_progress)


@dataclass(frozen=True)
class Recorded:
    """What a confirmation did."""

    confirmation: Confirmation
    state: RecipientState
    moved: bool
    withdrawn: int


def target_state(answer: Answer, via: ConfirmVia) -> RecipientState:
    if answer is Answer.needs_help:
        return R.needs_help
    return R.visited if via is ConfirmVia.visit else R.confirmed


def record_confirmation(
    session: Session,
    *,
    recipient: Recipient,
    via: ConfirmVia,
    answer: Answer,
    actor: Actor,
    now: dt.datetime,
    person_id: int | None = None,
    text: str = "",
) -> Recorded:
    """Keep the answer; move the household forward; stop its remaining sends."""
    confirmation = Confirmation(
        alert_id=recipient.alert_id,
        recipient_id=recipient.id,
        person_id=person_id,
        via=via,
        answer=answer,
        by=actor.name,
        text=text[:1000],
        source_ip=actor.source_ip,
        at=now,
    )
    session.add(confirmation)
    session.flush()
    state = target_state(answer, via)
    moved = may_move(recipient.state, state)
    if moved:
        recipient.state = state
        recipient.final_at = now
        recipient.next_action_at = None
    withdrawn = withdraw_queued(session, recipient_id=recipient.id, now=now)
    if via is not ConfirmVia.visit and answer is not Answer.needs_help:
        cancel_open_visits(session, recipient_id=recipient.id, now=now)
    if answer is Answer.needs_help:
        open_help_request(session, recipient=recipient, confirmation=confirmation, now=now)
    record(
        session,
        actor=actor,
        action="household.confirm",
        object_type="recipient",
        object_id=recipient.id,
        alert_id=recipient.alert_id,
        via=via.value,
        answer=answer.value,
        moved=moved,
    )
    return Recorded(confirmation, recipient.state, moved, withdrawn)


def withdraw_queued(session: Session, *, recipient_id: int, now: dt.datetime) -> int:
    """Cancel the household's deliveries that have not gone out yet."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.recipient_id == recipient_id, Delivery.state == DeliveryState.queued)
        .values(state=DeliveryState.cancelled, final_at=now, error_code="confirmed")
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def cancel_open_visits(session: Session, *, recipient_id: int, now: dt.datetime) -> int:
    """The household answered: nobody needs to knock any more (a help request still does)."""
    result = session.execute(
        update(VisitTask)
        .where(VisitTask.recipient_id == recipient_id, VisitTask.state.in_(OPEN_VISITS))
        .values(state=VisitState.cancelled, done_at=now, notes="已确认，无需上门 / confirmed")
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def open_help_request(
    session: Session, *, recipient: Recipient, confirmation: Confirmation, now: dt.datetime
) -> HelpRequest:
    """One help request per household and alert: a repeated ask keeps the open one; an ask
    after it was handled opens it again (needs help always reaches the duty board)."""
    existing = session.scalar(select(HelpRequest).where(HelpRequest.recipient_id == recipient.id))
    if existing is not None:
        if existing.handled_at is not None:
            earlier = (
                f"此前已由 {existing.handled_by} 处理 / handled before by {existing.handled_by}"
            )
            existing.note = f"{earlier}: {existing.note}" if existing.note else earlier
            existing.handled_at, existing.handled_by = None, None
            existing.confirmation_id, existing.opened_at = confirmation.id, now
        return existing
    request = HelpRequest(
        alert_id=recipient.alert_id,
        recipient_id=recipient.id,
        confirmation_id=confirmation.id,
        opened_at=now,
    )
    session.add(request)
    session.flush()
    return request


def handle_help_request(
    session: Session, *, request_id: int, actor: Actor, note: str, now: dt.datetime
) -> HelpRequest:
    """An officer has dealt with a help request."""
    request = session.get(HelpRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"求助不存在 / no help request {request_id}")
    if request.handled_at is not None:
        raise InvalidState("求助已处理 / help request already handled")
    request.handled_at = now
    request.handled_by = actor.name
    request.note = note
    record(
        session,
        actor=actor,
        action="help.handle",
        object_type="help_request",
        object_id=request_id,
        note=note,
    )
    return request


def recipient_for(session: Session, *, alert_id: int, person_id: int) -> Recipient | None:
    """The household of a person under an alert."""
    return session.scalar(
        select(Recipient)
        .join(Person, Person.household_id == Recipient.household_id)
        .where(Recipient.alert_id == alert_id, Person.id == person_id)
    )
