"""A resident's SMS to one of our numbers: record it, post the signed webhook, act on TwiML."""

from __future__ import annotations

import html
import re
import time
from typing import Any

from broadcaster.sim.lifecycle import inbound_params
from broadcaster.sim.segments import count_segments
from broadcaster.sim.state import SimState
from broadcaster.sim.store import Message

TWIML_MESSAGE = re.compile(r"<Message\b[^>]*>(.*?)</Message>", re.DOTALL)
TWIML_BODY = re.compile(r"<Body\b[^>]*>(.*?)</Body>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")


class InboundError(Exception):
    """The inbound message cannot be delivered as asked (no webhook, unknown number)."""


def twiml_replies(text: str) -> list[str]:
    """Bodies of the <Message> verbs in a TwiML answer."""
    replies = []
    for inner in TWIML_MESSAGE.findall(text):
        body = TWIML_BODY.search(inner)
        replies.append(html.unescape(TAG.sub("", body.group(1) if body else inner)).strip())
    return [reply for reply in replies if reply]


async def deliver_inbound(state: SimState, *, sender: str, to: str, body: str) -> dict[str, Any]:
    """Send an incoming SMS to the sms_url of our number `to`; returns what happened."""
    config = state.config
    number = config.numbers.get(to)
    if number is None or not number.sms_url:
        raise InboundError(f"number {to} has no sms_url configured")
    account = config.number_account(to)
    if account is None or account not in config.accounts:
        raise InboundError(f"number {to} belongs to no configured account")
    message = Message(
        sid=state.new_sid("SM"),
        account_sid=account,
        to=to,
        from_=sender,
        body=body,
        status="received",
        num_segments=count_segments(body),
        direction="inbound",
    )
    state.store.add(message)
    state.store.counters["inbound"] += 1
    record = await state.dispatcher.post_form(
        number.sms_url,
        inbound_params(message),
        config.accounts[account],
        retries=config.callback_retries,
        idempotency=message.sid,
    )
    record.update(kind="inbound", sid=message.sid, status="received")
    state.store.counters["inbound_sent" if record["ok"] else "inbound_failed"] += 1
    state.store.log_callback(message, record)
    replies = []
    if record["ok"]:
        for text in twiml_replies(record["response"]):
            replies.append(_record_reply(state, message, text))
    return {
        "message": message.resource(),
        "webhook": record,
        "replies": [reply.resource() for reply in replies],
    }


def _record_reply(state: SimState, inbound: Message, text: str) -> Message:
    """A TwiML <Message> answer, sent back to the resident at once."""
    now = time.time()
    reply = Message(
        sid=state.new_sid("SM"),
        account_sid=inbound.account_sid,
        to=inbound.from_ or "",
        from_=inbound.to,
        body=text,
        status="delivered",
        num_segments=count_segments(text),
        direction="outbound-reply",
        created=now,
        sent=now,
    )
    state.store.add(reply)
    state.store.counters["twiml_replies"] += 1
    return reply
