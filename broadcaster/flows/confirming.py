"""Recording confirmations: forward-only household states, queued sends withdrawn, help opened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient, RecipientRound, RecipientState
from broadcaster.alerts.states import may_move
from broadcaster.auth.audit import Actor, record
from broadcaster.confirm.models import (
    Answer,
    Confirmation,
    ConfirmedBy,
    ConfirmVia,
    HelpRequest,
)
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.errors import InvalidState, NotFound
from broadcaster.flows.help_calls import call_for_help
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Person

R = RecipientState
# Which household states each answer may move from (DESIGN §3.4: states only move forward).
OPEN_VISITS = (VisitState.open, VisitState.in_progress)
# A message in these states has gone (or may have gone: leased) to the provider.
WENT_OUT = (
    DeliveryState.sending,
    DeliveryState.sent,
    DeliveryState.delivered,
    DeliveryState.unknown,
)

# The help queue (duty board, console): vulnerable households first, then the oldest ask.
HELP_ORDER = (Recipient.is_vulnerable.desc(), HelpRequest.opened_at, HelpRequest.id)


@dataclass(frozen=True)
class Recorded:
    """What a confirmation did."""

    confirmation: Confirmation
    state: RecipientState
    moved: bool
    withdrawn: int
    # Help notices queued to the household's responsible worker and zone lead, per channel:
    # the caller enqueues them once committed.
    sends: dict[str, int] = field(default_factory=dict)


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
    for_round: int | None = None,
    confirmed_by: ConfirmedBy | None = None,
    proxy_id: int | None = None,
    final: bool = True,
) -> Recorded:
    """Keep the answer; move the household forward in its round; stop its remaining sends.

    An SMS reply that cannot have answered the current round (no message of it has gone out
    to the household yet: "1" to the orange warning, arriving after the red was issued) is
    kept for the round it answered and moves nothing, as is a finding of an earlier round's
    visit (`for_round`); "needs help" always counts now. An answer that is not `final` (a
    proxy's for a household the policy still wants visited) is kept and moves nothing."""
    answered = answered_round(session, recipient, via, answer)
    if for_round is not None and answer is not Answer.needs_help:
        answered = min(for_round, recipient.round)
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
        round=answered,
        confirmed_by=confirmed_by,
        proxy_id=proxy_id,
        final=final or answer is Answer.needs_help,
    )
    session.add(confirmation)
    session.flush()
    current = answered == recipient.round and confirmation.final
    state = target_state(answer, via)
    moved = current and may_move(recipient.state, state)
    if moved:
        recipient.state = state
        recipient.final_at = now
        recipient.next_action_at = None
    withdrawn = withdraw_queued(session, recipient_id=recipient.id, now=now) if current else 0
    if current and via is not ConfirmVia.visit and answer is not Answer.needs_help:
        cancel_open_visits(session, recipient_id=recipient.id, now=now)
    sends: dict[str, int] = {}
    if answer is Answer.needs_help:
        _, fresh = open_help_request(
            session, recipient=recipient, confirmation=confirmation, now=now
        )
        if fresh and via is not ConfirmVia.visit:  # a worker at the door already knows
            sends = call_for_help(session, recipient=recipient, now=now)
    audit_confirmation(
        session,
        actor,
        recipient,
        via,
        answer,
        moved=moved,
        round_=answered,
        confirmed_by=confirmed_by,
        final=confirmation.final,
    )
    return Recorded(confirmation, recipient.state, moved, withdrawn, sends)


def answered_round(session: Session, recipient: Recipient, via: ConfirmVia, answer: Answer) -> int:
    """The round an answer belongs to: the current one, unless it is an SMS reply while no
    message of the current round has gone out to the household (then it answers the last)."""
    if recipient.round <= 1 or via is not ConfirmVia.sms_reply or answer is Answer.needs_help:
        return recipient.round
    asked = session.scalar(
        select(
            exists().where(
                Delivery.recipient_id == recipient.id,
                Delivery.notice.is_(None),
                Delivery.revision >= recipient.round,
                Delivery.state.in_(WENT_OUT),
            )
        )
    )
    if asked:
        return recipient.round
    earlier = session.scalar(
        select(func.max(RecipientRound.round)).where(RecipientRound.recipient_id == recipient.id)
    )
    return int(earlier) if earlier is not None else recipient.round


def withdraw_queued(session: Session, *, recipient_id: int, now: dt.datetime) -> int:
    """Cancel the household's warnings that have not gone out yet (never a notice: the
    all-clear still goes to a household that has confirmed)."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.recipient_id == recipient_id,
            Delivery.state == DeliveryState.queued,
            Delivery.notice.is_(None),
        )
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
) -> tuple[HelpRequest, bool]:
    """One help request per household and alert: a repeated ask keeps the open one; an ask
    after it was handled opens it again (needs help always reaches the duty board). True
    when it was opened (or opened again) now."""
    existing = session.scalar(select(HelpRequest).where(HelpRequest.recipient_id == recipient.id))
    if existing is not None:
        if existing.handled_at is not None:
            earlier = (
                f"此前已由 {existing.handled_by} 处理 / handled before by {existing.handled_by}"
            )
            existing.note = f"{earlier}: {existing.note}" if existing.note else earlier
            existing.handled_at, existing.handled_by = None, None
            existing.confirmation_id, existing.opened_at = confirmation.id, now
            return existing, True
        return existing, False
    request = HelpRequest(
        alert_id=recipient.alert_id,
        recipient_id=recipient.id,
        confirmation_id=confirmation.id,
        opened_at=now,
    )
    session.add(request)
    session.flush()
    return request, True


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


def audit_confirmation(
    session: Session,
    actor: Actor,
    recipient: Recipient,
    via: ConfirmVia,
    answer: Answer,
    *,
    moved: bool,
    round_: int,
    confirmed_by: ConfirmedBy | None,
    final: bool,
) -> None:
    """The audit event of a household's answer (one path or the batch of replies)."""
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
        round=round_,
        confirmed_by=confirmed_by.value if confirmed_by else None,
        final=final,
    )
