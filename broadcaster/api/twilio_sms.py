"""Inbound SMS: every reply is kept; a known keyword from a targeted number confirms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse

from broadcaster.alerts.models import Alert, AlertState, Recipient
from broadcaster.api.deps import get_settings_dep
from broadcaster.api.twilio_status import twilio_form
from broadcaster.auth.audit import Actor
from broadcaster.confirm.models import ConfirmVia, InboundMessage
from broadcaster.confirm.replies import parse_reply
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.models import Delivery
from broadcaster.errors import ValidationFailed
from broadcaster.flows.confirming import record_confirmation
from broadcaster.settings import Settings

router = APIRouter(prefix="/hooks", tags=["hooks"])
EMPTY_TWIML = str(MessagingResponse())  # no reply message
OPEN = (AlertState.sending, AlertState.active)
SID_MAX = 64  # the column's width; Twilio's are 34


@dataclass(frozen=True)
class Inbound:
    provider_id: str
    sender: str
    body: str


def inbound_from(params: dict[str, str]) -> Inbound:
    """The reply's parts, or a 422 naming what is missing or malformed."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid:
        raise ValidationFailed("缺少 MessageSid / missing MessageSid", field="MessageSid")
    if len(sid) > SID_MAX:
        raise ValidationFailed(f"MessageSid 过长 / MessageSid over {SID_MAX}", field="MessageSid")
    sender = params.get("From", "")
    try:
        number = phonenumbers.parse(sender, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"发送号码无效 / bad From number: {sender!r}", field="From") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationFailed(f"发送号码无效 / bad From number: {sender!r}", field="From")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Inbound(sid, e164, params.get("Body", ""))


@router.post("/twilio/sms/inbound")
async def twilio_sms_inbound(
    request: Request, settings: Settings = Depends(get_settings_dep)
) -> Response:
    """A resident's SMS (signature-checked). Answers with empty TwiML: no reply is charged."""
    params = await twilio_form(request, settings)
    message = inbound_from(params)
    committer: GroupCommit[Inbound] = request.app.state.inbound_replies
    await committer.submit(message)
    return Response(EMPTY_TWIML, media_type="application/xml")


def inbound_committer(db: Database) -> GroupCommit[Inbound]:
    """Replies arriving together share one transaction (a burst of "1"s after an alert
    serialised on the database's write lock, one commit each: about 200 a second)."""

    def apply(messages: Sequence[Inbound]) -> None:
        try:
            with db.transaction() as session:
                for message in messages:
                    keep_reply(session, message, utcnow())
        except Exception:
            if len(messages) == 1:
                raise
            for message in messages:  # one bad reply must not hold back the others
                apply_inbound(db, message)

    return GroupCommit(apply)


def apply_inbound(db: Database, message: Inbound) -> InboundMessage:
    """One reply in its own transaction (see `keep_reply`)."""
    with db.transaction() as session:
        return keep_reply(session, message, utcnow())


def keep_reply(session: Session, message: Inbound, now: dt.datetime) -> InboundMessage:
    """Keep the message; match it to the sender's latest open alert; confirm if understood.
    A message the provider sent again (same sid) is kept once."""
    answer = parse_reply(message.body)
    existing = session.scalar(
        select(InboundMessage).where(InboundMessage.provider_id == message.provider_id)
    )
    if existing is not None:  # the provider retried the webhook
        return existing
    match = session.execute(
        select(Delivery.recipient_id, Delivery.alert_id, Delivery.person_id)
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(Delivery.address == message.sender, Delivery.channel == "sms", Alert.state.in_(OPEN))
        .order_by(Alert.issued_at.desc(), Delivery.id.desc())
        .limit(1)
    ).first()
    row = InboundMessage(
        provider_id=message.provider_id,
        sender=message.sender,
        body=message.body[:2000],
        answer=answer,
        at=now,
        alert_id=match.alert_id if match else None,
        recipient_id=match.recipient_id if match else None,
    )
    session.add(row)
    if match is not None and answer is not None:
        recipient = session.get(Recipient, match.recipient_id, with_for_update=True)
        assert recipient is not None
        record_confirmation(
            session,
            recipient=recipient,
            via=ConfirmVia.sms_reply,
            answer=answer,
            actor=Actor(f"sms:{message.sender}"),
            now=now,
            person_id=match.person_id,
            text=message.body,
        )
    return row
