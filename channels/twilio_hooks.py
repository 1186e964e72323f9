"""Twilio's webhooks parsed: message and call status callbacks, inbound SMS, a call's TwiML
and key presses. Signatures are checked by the channel (`TwilioChannel.verify`)."""

from __future__ import annotations

import phonenumbers
from twilio.twiml.messaging_response import MessagingResponse

from channels.base import ProviderState
from channels.hooks import CallTurn, HookAnswer, HookRejected, HookRequest, KeyPress, Receipt, Reply
from channels.voice_twiml import MAX_PLAYS, hangup_twiml

XML = "application/xml"
EMPTY_TWIML = str(MessagingResponse())  # no reply message: none is charged
HANGUP = hangup_twiml()
SID_MAX = 64  # our column's width; Twilio's are 34
TWIML = "voice/twiml"
GATHER = "voice/gather"

# A message's status (callbacks and lookups); statuses not listed are not tracked.
MESSAGE_STATES = {
    "accepted": ProviderState.sent,
    "scheduled": ProviderState.sent,
    "queued": ProviderState.sent,
    "sending": ProviderState.sent,
    "sent": ProviderState.sent,
    "delivered": ProviderState.delivered,
    "read": ProviderState.delivered,
    "undelivered": ProviderState.failed,
    "failed": ProviderState.failed,
    "canceled": ProviderState.failed,
}
CALL_IN_FLIGHT = frozenset({"queued", "initiated", "ringing", "in-progress"})
CALL_UNANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


def is_machine(answered_by: str | None) -> bool:
    """Whether answering-machine detection heard a machine (or a fax), not a person."""
    return bool(answered_by) and (str(answered_by).startswith("machine") or answered_by == "fax")


def call_state(
    status: str | None, answered_by: str | None
) -> tuple[ProviderState, str | None] | None:
    """Our state and error code for a call's status and AMD verdict; None if it says nothing.

    A person answered (completed, AnsweredBy human/unknown/absent) → delivered; a machine
    answered → failed "machine"; busy/no-answer/failed/canceled → failed with that code;
    a call on its way → sent. An async AMD verdict comes without a status."""
    if status in CALL_UNANSWERED:
        return ProviderState.failed, status
    if is_machine(answered_by):
        return ProviderState.failed, "machine"
    if status == "completed":
        return ProviderState.delivered, None
    if status in CALL_IN_FLIGHT:
        return ProviderState.sent, None
    return None


def sms_status(request: HookRequest) -> HookAnswer:
    """A message status callback (the `d` query names our delivery)."""
    delivery_id = request.delivery()
    params = request.form
    state = MESSAGE_STATES.get(params.get("MessageStatus") or params.get("SmsStatus") or "")
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if state is None or not sid:
        return HookAnswer()
    return HookAnswer(receipts=(Receipt(delivery_id, sid, state, params.get("ErrorCode") or None),))


def sms_inbound(request: HookRequest) -> HookAnswer:
    """A resident's SMS; answered with empty TwiML (no reply is charged)."""
    params = request.form
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid:
        raise HookRejected("缺少 MessageSid / missing MessageSid", field="MessageSid")
    if len(sid) > SID_MAX:
        raise HookRejected(f"MessageSid 过长 / MessageSid over {SID_MAX}", field="MessageSid")
    sender = params.get("From", "")
    try:
        number = phonenumbers.parse(sender, None)
    except phonenumbers.NumberParseException as exc:
        raise HookRejected(f"发送号码无效 / bad From number: {sender!r}", field="From") from exc
    if not phonenumbers.is_possible_number(number):
        raise HookRejected(f"发送号码无效 / bad From number: {sender!r}", field="From")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    reply = Reply(sid, e164, params.get("Body", ""))
    return HookAnswer(replies=(reply,), body=EMPTY_TWIML, media_type=XML)


def _attempt(request: HookRequest) -> int:
    """Which prompt of the call this is (1 when absent or malformed)."""
    raw = request.query.get("attempt", "1")
    return min(max(int(raw), 1), MAX_PLAYS + 1) if raw.isdigit() else 1


def _call_receipts(request: HookRequest, delivery_id: int) -> tuple[Receipt, ...]:
    """Our receipt from a call status callback (or AMD verdict); none when it says nothing."""
    params = request.form
    sid = params.get("CallSid", "")
    found = call_state(params.get("CallStatus") or None, params.get("AnsweredBy") or None)
    if not sid or found is None:
        return ()
    return (Receipt(delivery_id, sid, *found),)


def voice_twiml(request: HookRequest) -> HookAnswer:
    """The call asks for its TwiML; a machine that answered is hung up on."""
    delivery_id = request.delivery()
    if is_machine(request.form.get("AnsweredBy")):
        return HookAnswer(
            receipts=_call_receipts(request, delivery_id), body=HANGUP, media_type=XML
        )
    return HookAnswer(call=CallTurn(delivery_id, _attempt(request)), media_type=XML)


def voice_gather(request: HookRequest) -> HookAnswer:
    """A key pressed during the call (or none before the prompt timed out)."""
    delivery_id = request.delivery()
    digit = request.form.get("Digits", "").strip()
    keys = (KeyPress(delivery_id, digit, request.form.get("CallSid", "")),) if digit else ()
    turn = CallTurn(delivery_id, _attempt(request), digit)
    return HookAnswer(keys=keys, call=turn, media_type=XML)


def voice_status(request: HookRequest) -> HookAnswer:
    """A call status callback or async AMD verdict (the `d` query names our delivery)."""
    return HookAnswer(receipts=_call_receipts(request, request.delivery()))
