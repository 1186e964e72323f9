"""A group of replies kept in one transaction with a few statements per group, not per reply:
the common answer (a member's "safe" in the first round, numbers no other reply of the group
touches) set-based, every other reply through `keep_reply`, in the order they came."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.states import may_move
from broadcaster.alerts.texts import NOTICE_ACK_HELP, NOTICE_ACK_SAFE
from broadcaster.auth.audit import Actor
from broadcaster.confirm.models import Answer, Confirmation, ConfirmedBy, ConfirmVia, InboundMessage
from broadcaster.confirm.replies import parse_reply
from broadcaster.db.planner import unindexed
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.flows.confirming import OPEN_VISITS, audit_confirmation, target_state
from broadcaster.flows.replies import Ack, Inbound, ack_delivery, keep_reply
from broadcaster.flows.reply_lookup import Match, households_of, match_senders, phones_of
from broadcaster.followup.models import VisitState, VisitTask

VIA = ConfirmVia.sms_reply
TOLD = (NOTICE_ACK_SAFE, NOTICE_ACK_HELP)  # a safe answer's acknowledgement: either told it


@dataclass(frozen=True)
class Planned:
    """A reply with what it answers, and the numbers and households it touches."""

    message: Inbound
    answer: Answer | None
    match: Match
    # per household answered for: this number and every phone listed in the household (where
    # its round's acknowledgement may have gone)
    numbers: dict[int, frozenset[str]]


def keep_replies(
    session: Session, messages: Sequence[Inbound], now: dt.datetime, acks: list[Ack]
) -> None:
    """Keep every message as `keep_reply` would one after another (same rows, same states,
    same acknowledgements appended to `acks`)."""
    known = set(
        session.scalars(
            select(InboundMessage.provider_id).where(
                InboundMessage.provider_id.in_({m.provider_id for m in messages})
            )
        )
    )
    first: dict[str, Inbound] = {}
    for message in messages:  # a provider id sent twice: the first kept, then found
        if message.provider_id not in known:
            first.setdefault(message.provider_id, message)
    fresh = [m for m in messages if first.get(m.provider_id) is m]
    plans = _plan(session, fresh)
    claims = Counter(key for p in plans if p.answer and p.match.answerers for key in _claims(p))
    recipients = _lock(session, plans)
    simple = {p.message.provider_id: p for p in plans if _simple(p, claims, recipients)}
    told = _told(session, [p for p in simple.values() if p.answer])
    # the alerts loaded (and held) before anything is added: no autoflush per acknowledgement
    held = {a: session.get_one(Alert, a) for a in {r.alert_id for r in recipients.values()}}
    segment: list[Planned] = []  # in the order they came: simple ones together, set-based
    for message in messages:
        if message.provider_id in known:
            continue
        plan = simple.get(message.provider_id)
        if plan is not None and first.get(message.provider_id) is message:
            segment.append(plan)
            continue
        _apply(session, segment, recipients, told, held, now, acks)
        segment = []
        keep_reply(session, message, now, acks)
    _apply(session, segment, recipients, told, held, now, acks)


def _plan(session: Session, messages: list[Inbound]) -> list[Planned]:
    matches: dict[tuple[str, str], Match] = {}
    for medium in {m.medium for m in messages}:
        senders = {m.sender for m in messages if m.medium == medium}
        for sender, found in match_senders(session, senders, medium).items():
            matches[medium, sender] = found
    households = households_of(
        session, {a.recipient_id for f in matches.values() for a in f.answerers}
    )
    phones = phones_of(session, set(households.values()))
    plans = []
    for message in messages:
        match = matches[message.medium, message.sender]
        numbers = {
            who.recipient_id: frozenset(
                {message.sender, *phones.get(households[who.recipient_id], ())}
            )
            for who in match.answerers
        }
        plans.append(Planned(message, parse_reply(message.body), match, numbers))
    return plans


def _claims(plan: Planned) -> list[object]:
    numbers = {plan.message.sender}.union(*plan.numbers.values())
    return [*numbers, *(("r", a.recipient_id) for a in plan.match.answerers)]


def _simple(plan: Planned, claims: Counter[object], recipients: dict[int, Recipient]) -> bool:
    """Kept set-based: not understood, or matched nobody; or a member's answer other than a
    call for help, in the first round, touching numbers and households no other reply does."""
    if plan.answer is None or not plan.match.answerers:
        return True
    return (
        plan.answer is not Answer.needs_help
        and all(a.confirmed_by is ConfirmedBy.member for a in plan.match.answerers)
        and all(recipients[a.recipient_id].round <= 1 for a in plan.match.answerers)
        and all(claims[key] == 1 for key in _claims(plan))
    )


def _lock(session: Session, plans: list[Planned]) -> dict[int, Recipient]:
    """The households the replies answer for, locked in id order."""
    ids = sorted({a.recipient_id for p in plans if p.answer for a in p.match.answerers})
    if not ids:
        return {}
    rows = session.scalars(
        select(Recipient).where(Recipient.id.in_(ids)).order_by(Recipient.id).with_for_update()
    )
    return {r.id: r for r in rows}


def _apply(
    session: Session,
    plans: list[Planned],
    recipients: dict[int, Recipient],
    told: set[tuple[object, ...]],
    alerts: dict[int, Alert],
    now: dt.datetime,
    acks: list[Ack],
) -> None:
    if not plans:
        return
    confirmed: list[int] = []
    for plan in plans:
        message, answerers = plan.message, plan.match.answerers
        session.add(
            InboundMessage(
                provider_id=message.provider_id,
                sender=message.sender,
                body=message.body[:2000],
                answer=plan.answer,
                at=now,
                alert_id=plan.match.alert_id,
                recipient_id=answerers[0].recipient_id if answerers else None,
            )
        )
        if plan.answer is None or not answerers:
            continue
        owed: Recipient | None = None
        for who in answerers:
            recipient = recipients[who.recipient_id]
            _confirm(session, recipient, who.person_id, plan.answer, message, now)
            confirmed.append(recipient.id)
            if owed is None and not _was_told(recipient, plan, told):
                owed = recipient
                owed_person = who.person_id
        if owed is not None:
            acks.append(_ack(session, alerts[owed.alert_id], owed, owed_person, message, now))
    _withdraw(session, confirmed, now)


def _confirm(
    session: Session,
    recipient: Recipient,
    person_id: int | None,
    answer: Answer,
    message: Inbound,
    now: dt.datetime,
) -> None:
    """`record_confirmation` of a member's final answer in the household's current round."""
    actor = Actor(f"sms:{message.sender}")
    session.add(
        Confirmation(
            alert_id=recipient.alert_id,
            recipient_id=recipient.id,
            person_id=person_id,
            via=VIA,
            answer=answer,
            by=actor.name,
            text=message.body[:1000],
            source_ip=None,
            at=now,
            round=recipient.round,
            confirmed_by=ConfirmedBy.member,
            proxy_id=None,
            final=True,
        )
    )
    state = target_state(answer, VIA)
    moved = may_move(recipient.state, state)
    if moved:
        recipient.state, recipient.final_at, recipient.next_action_at = state, now, None
    audit_confirmation(
        session,
        actor,
        recipient,
        VIA,
        answer,
        moved=moved,
        round_=recipient.round,
        confirmed_by=ConfirmedBy.member,
        final=True,
    )


def _told(session: Session, plans: list[Planned]) -> set[tuple[object, ...]]:
    """Acknowledgements already sent: (recipient, round) and (alert, number, round)."""
    ids = {a.recipient_id for p in plans for a in p.match.answerers}
    numbers = {n for p in plans for each in p.numbers.values() for n in each}
    told: set[tuple[object, ...]] = set()
    if ids:
        for rid, revision in session.execute(
            select(Delivery.recipient_id, Delivery.revision).where(
                Delivery.recipient_id.in_(ids), Delivery.notice.in_(TOLD)
            )
        ):
            told.add(("r", rid, revision))
    if numbers:
        for alert_id, address, revision in session.execute(
            select(Delivery.alert_id, Delivery.address, Delivery.revision).where(
                Delivery.address.in_(numbers), Delivery.notice.in_(TOLD)
            )
        ):
            told.add((alert_id, address, revision))
    return told


def _was_told(recipient: Recipient, plan: Planned, told: set[tuple[object, ...]]) -> bool:
    """`queue_ack`'s check: the household's round was acknowledged to it, to this number or to
    any number listed in the household."""
    if ("r", recipient.id, recipient.round) in told:
        return True
    numbers = plan.numbers[recipient.id]
    return any((recipient.alert_id, n, recipient.round) in told for n in numbers)


def _ack(
    session: Session,
    alert: Alert,
    recipient: Recipient,
    person_id: int | None,
    message: Inbound,
    now: dt.datetime,
) -> Ack:
    session.add(
        ack_delivery(
            alert.id,
            recipient.id,
            person_id,
            message.medium,
            message.sender,
            now=now,
            round_=recipient.round,
            notice=NOTICE_ACK_SAFE,
        )
    )
    return Ack(alert.id, alert.level, message.medium)


def _withdraw(session: Session, recipient_ids: list[int], now: dt.datetime) -> None:
    """`withdraw_queued` and `cancel_open_visits` for every household that answered."""
    if not recipient_ids:
        return
    # looked up by household first: with the state in the same WHERE, SQLite walks every
    # queued delivery (the lease index) instead
    rows = session.execute(
        select(Delivery.id, Delivery.state, Delivery.notice).where(
            Delivery.recipient_id.in_(recipient_ids)
        )
    )
    queued = [i for i, state, notice in rows if state == DeliveryState.queued and notice is None]
    if queued:
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(queued),
                unindexed(Delivery.state) == DeliveryState.queued,  # by the keys
                Delivery.notice.is_(None),
            )
            .values(state=DeliveryState.cancelled, final_at=now, error_code="confirmed")
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(VisitTask)
        .where(VisitTask.recipient_id.in_(recipient_ids), VisitTask.state.in_(OPEN_VISITS))
        .values(state=VisitState.cancelled, done_at=now, notes="已确认，无需上门 / confirmed")
        .execution_options(synchronize_session=False)
    )
