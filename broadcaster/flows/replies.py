"""Residents' replies: every message is kept; a known keyword from a targeted number confirms
and is acknowledged (once per household and round) on the medium it came in on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Level
from broadcaster.alerts.texts import NOTICE_ACK_HELP, NOTICE_ACK_SAFE
from broadcaster.auth.audit import Actor
from broadcaster.confirm.models import Answer, ConfirmVia, InboundMessage
from broadcaster.confirm.replies import parse_reply
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.planner import unindexed
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.flows.answering import Answered, answer_for_households
from broadcaster.flows.senders import answerers, reply_alert
from broadcaster.registry.models import Person
from broadcaster.settings import Settings


@dataclass(frozen=True)
class Inbound:
    """A reply as the provider reported it, and the medium whose deliveries it answers."""

    provider_id: str
    sender: str
    body: str
    medium: str


@dataclass(frozen=True)
class Ack:
    """An acknowledgement queued for a reply: sent once its transaction has committed."""

    alert_id: int
    level: Level
    medium: str


# The acknowledgement of each answer: "needs help" is told help is on its way, any other
# answer that it was received.
ACK_NOTICE = {Answer.needs_help: NOTICE_ACK_HELP}
ACK_PRIORITY = -1  # before any warning still queued: the resident is waiting for it


def inbound_committer(
    db: Database, settings: Settings | None = None, connection: redis.Redis | None = None
) -> GroupCommit[Inbound]:
    """Replies arriving together share one transaction (a burst of "1"s after an alert
    serialised on the database's write lock, one commit each: about 200 a second), kept with a
    few statements per group (`keep_replies`). Their acknowledgements are enqueued once
    committed (with `settings`; else the reconciler)."""
    from broadcaster.flows.reply_batch import keep_replies  # it builds on keep_reply, below

    def apply(messages: Sequence[Inbound]) -> None:
        acks: list[Ack] = []
        try:
            with db.transaction() as session:
                keep_replies(session, messages, utcnow(), acks)
        except Exception:
            if len(messages) == 1:
                raise
            acks = []
            try:
                for message in messages:  # one bad reply must not hold back the others
                    apply_inbound(db, message, acks)
            finally:  # those committed before a failure
                if settings is not None:
                    enqueue_acks(settings, connection, acks)
            return
        if settings is not None:
            enqueue_acks(settings, connection, acks)

    return GroupCommit(apply)


def enqueue_acks(settings: Settings, connection: redis.Redis | None, acks: Sequence[Ack]) -> None:
    """Send jobs for committed acknowledgements, one count per alert and medium."""
    counts: dict[tuple[int, Level], dict[str, int]] = {}
    for ack in acks:
        by_medium = counts.setdefault((ack.alert_id, ack.level), {})
        by_medium[ack.medium] = by_medium.get(ack.medium, 0) + 1
    for (alert_id, level), channel_counts in counts.items():
        try_enqueue_sends(
            settings, connection, alert_id=alert_id, level=level, channel_counts=channel_counts
        )


def apply_inbound(db: Database, message: Inbound, acks: list[Ack] | None = None) -> InboundMessage:
    """One reply in its own transaction (see `keep_reply`); its acknowledgement is added to
    `acks` once committed."""
    queued: list[Ack] = []
    with db.transaction() as session:
        row = keep_reply(session, message, utcnow(), queued)
    if acks is not None:
        acks.extend(queued)
    return row


def keep_reply(
    session: Session, message: Inbound, now: dt.datetime, acks: list[Ack] | None = None
) -> InboundMessage:
    """Keep the message; match it to the sender's latest open alert on the reply's medium;
    if understood, answer for every household of that alert the number belongs to (a shared
    phone, a proxy's), and queue one acknowledgement (appended to `acks`, to enqueue after
    commit). A message the provider sent again (same id) is kept once."""
    answer = parse_reply(message.body)
    existing = session.scalar(
        select(InboundMessage).where(InboundMessage.provider_id == message.provider_id)
    )
    if existing is not None:  # the provider retried the webhook
        return existing
    alert_id = reply_alert(session, sender=message.sender, medium=message.medium)
    matched = (
        []
        if alert_id is None
        else answerers(session, alert_id=alert_id, sender=message.sender, medium=message.medium)
    )
    row = InboundMessage(
        provider_id=message.provider_id,
        sender=message.sender,
        body=message.body[:2000],
        answer=answer,
        at=now,
        alert_id=alert_id,
        recipient_id=matched[0].recipient_id if matched else None,
    )
    session.add(row)
    if answer is None or not matched:
        return row
    answered = answer_for_households(
        session,
        answerers=matched,
        answer=answer,
        via=ConfirmVia.sms_reply,
        actor=Actor(f"sms:{message.sender}"),
        now=now,
        text=message.body,
    )
    ack = queue_ack(
        session,
        answered=answered,
        answer=answer,
        medium=message.medium,
        address=message.sender,
        now=now,
    )
    if ack is not None and acks is not None:
        acks.append(ack)
    if acks is not None:  # the responsible worker and the lead told of a call for help
        for done in answered:
            level = ack.level if ack else session.get_one(Alert, done.recorded_for.alert_id).level
            for medium, count in done.sends.items():
                acks.extend([Ack(done.recorded_for.alert_id, level, medium)] * count)
    return row


def ack_delivery(
    alert_id: int,
    recipient_id: int,
    person_id: int | None,
    medium: str,
    address: str,
    *,
    now: dt.datetime,
    round_: int,
    notice: str,
) -> Delivery:
    """The acknowledgement to a resident's number, queued ahead of the fan-out."""
    return Delivery(
        alert_id=alert_id,
        recipient_id=recipient_id,
        person_id=person_id,
        channel=medium,
        address=address,
        state=DeliveryState.queued,
        priority=ACK_PRIORITY,
        attempts=0,
        queued_at=now,
        revision=round_,
        notice=notice,
    )


def queue_ack(
    session: Session,
    *,
    answered: Sequence[Answered],
    answer: Answer,
    medium: str,
    address: str,
    now: dt.datetime,
) -> Ack | None:
    """Queue the answer's acknowledgement to `address` on `medium`, once per household and
    round: a repeated answer gets none; a call for help after a safe reply gets the help
    acknowledgement (once); a safe reply after any acknowledgement gets none. A number that
    answered for several households gets one message (on the first household still owed one);
    a household counts as told when its round's acknowledgement went to it, to this number or
    to any of its members' numbers."""
    notice = ACK_NOTICE.get(answer, NOTICE_ACK_SAFE)
    told = (NOTICE_ACK_HELP,) if notice == NOTICE_ACK_HELP else (NOTICE_ACK_SAFE, NOTICE_ACK_HELP)
    for item in answered:
        recipient, round_ = item.recorded_for, item.round
        acked = Delivery.revision == round_, Delivery.notice.in_(told)
        members = session.scalars(
            select(Person.phone).where(
                Person.household_id == recipient.household_id, Person.phone.is_not(None)
            )
        )
        numbers = sorted({address, *members})
        of_alert = (*acked, unindexed(Delivery.alert_id) == recipient.alert_id)
        # one EXISTS per number, each on the address index (an OR of them, or an IN, made the
        # planner walk the alert's deliveries; so did the alert's key, on SQLite: 50 ms a
        # reply at a million deliveries)
        already = session.scalar(
            select(
                or_(
                    exists().where(*acked, Delivery.recipient_id == recipient.id),
                    *(exists().where(*of_alert, Delivery.address == n) for n in numbers),
                )
            )
        )
        if already:
            continue
        alert = session.get(Alert, recipient.alert_id)
        assert alert is not None
        session.add(
            ack_delivery(
                alert.id,
                recipient.id,
                item.person_id,
                medium,
                address,
                now=now,
                round_=round_,
                notice=notice,
            )
        )
        session.flush()
        return Ack(alert.id, alert.level, medium)
    return None
