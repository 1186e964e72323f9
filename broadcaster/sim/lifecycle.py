"""Message fates, status transitions and the webhook parameters they produce."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from broadcaster.sim.config import SimConfig
from broadcaster.sim.store import API_VERSION, Message, Store

UNDELIVERED_ERRORS = (
    (30003, "Unreachable destination handset"),
    (30005, "Unknown destination handset"),
    (30006, "Landline or unreachable carrier"),
)
FAILED_ERRORS = (
    (30001, "Queue overflow"),
    (30008, "Unknown error"),
)
COUNTRY_PREFIXES = (("+852", "HK"), ("+853", "MO"), ("+886", "TW"), ("+86", "CN"), ("+1", "US"))


def choose_fate(config: SimConfig, rng: random.Random, to: str) -> str:
    """delivered, undelivered or failed: fixed per number, else by the configured rates."""
    fixed = config.number_fates.get(to)
    if fixed is not None:
        return fixed
    if not (config.failed_rate or config.undelivered_rate):
        return "delivered"
    draw = rng.random()
    if draw < config.failed_rate:
        return "failed"
    if draw < config.failed_rate + config.undelivered_rate:
        return "undelivered"
    return "delivered"


def planned_statuses(message: Message) -> tuple[str, ...]:
    """Statuses after creation, each one announced by a status callback.

    Without a messaging service a message is created `queued`; with one it is
    `accepted` and announces `queued` first. Failed messages are never `sent`.
    """
    head = ("queued",) if message.status == "accepted" else ()
    if message.fate == "failed":
        return (*head, "failed")
    return (*head, "sent", message.fate)


def apply_status(store: Store, rng: random.Random, message: Message, status: str) -> None:
    """Move the message on, stamping date_sent and error details as the provider does."""
    store.set_status(message, status)
    if status == "sent":
        message.sent = message.updated
    elif status in ("undelivered", "failed"):
        table = UNDELIVERED_ERRORS if status == "undelivered" else FAILED_ERRORS
        message.error_code, message.error_message = table[rng.randrange(len(table))]


def status_callback_params(message: Message) -> dict[str, str]:
    """Form fields of a message status callback."""
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "From": message.from_ or "",
        "MessageSid": message.sid,
        "MessageStatus": message.status,
        "SmsSid": message.sid,
        "SmsStatus": message.status,
        "To": message.to,
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if message.error_code is not None and message.status in ("undelivered", "failed"):
        params["ErrorCode"] = str(message.error_code)
    if message.status == "delivered":
        done = datetime.fromtimestamp(message.updated, UTC)
        params["RawDlrDoneDate"] = done.strftime("%y%m%d%H%M")
    return params


def country_of(number: str) -> str:
    """ISO country of an E.164 number for the few prefixes the demo uses, else ''."""
    for prefix, country in COUNTRY_PREFIXES:
        if number.startswith(prefix):
            return country
    return ""


def inbound_params(message: Message) -> dict[str, str]:
    """Form fields of an incoming-SMS webhook for a received message."""
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "Body": message.body,
        "From": message.from_ or "",
        "FromCity": "",
        "FromCountry": country_of(message.from_ or ""),
        "FromState": "",
        "FromZip": "",
        "MessageSid": message.sid,
        "NumMedia": "0",
        "NumSegments": str(message.num_segments),
        "SmsMessageSid": message.sid,
        "SmsSid": message.sid,
        "SmsStatus": "received",
        "To": message.to,
        "ToCity": "",
        "ToCountry": country_of(message.to),
        "ToState": "",
        "ToZip": "",
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    return params
