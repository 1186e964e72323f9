"""Shared by the voice tests (no tests here): voice deliveries, signed webhooks, snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from broadcaster.alerts.models import Recipient
from broadcaster.api.twilio_voice import router as voice_router
from broadcaster.app import create_app
from broadcaster.confirm.models import Confirmation, HelpRequest
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

TWIML = "/hooks/twilio/voice/twiml"
GATHER = "/hooks/twilio/voice/gather"
STATUS = "/hooks/twilio/voice/status"


@dataclass(frozen=True)
class VoiceRow:
    """One planned call: our delivery, its household and the number called."""

    delivery_id: int
    recipient_id: int
    person_id: int
    phone: str


def voice_app(settings: Settings, db: Database) -> FastAPI:
    """The service app with the voice webhooks included (as create_app will include them)."""
    app = create_app(settings, db)
    app.include_router(voice_router)
    return app


def plan_calls(
    db: Database,
    settings: Settings,
    *,
    phones: list[str] | None = None,
    households: int = 2,
    languages: dict[str, str] | None = None,
    **alert: Any,
) -> tuple[int, list[VoiceRow]]:
    """Households (one phone each), an issued alert, and a queued voice call per phone."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for phone in phones or [None] * households:
            f.household(session, grid=zones["G1"], phones=(phone,) if phone else ())
        for phone, language in (languages or {}).items():
            session.execute(update(Person).where(Person.phone == phone).values(language=language))
    alert_id = fa.issue(db, settings, zones=["V1"], **alert).alert.id
    rows = []
    with db.transaction() as session:
        for sms in session.scalars(
            select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id)
        ).all():
            call = Delivery(
                alert_id=alert_id,
                recipient_id=sms.recipient_id,
                person_id=sms.person_id,
                channel="voice",
                address=sms.address,
                state=DeliveryState.queued,
                priority=sms.priority,
                queued_at=utcnow(),
            )
            session.add(call)
            session.flush()
            assert sms.person_id is not None
            rows.append(VoiceRow(call.id, sms.recipient_id, sms.person_id, sms.address))
    return alert_id, rows


def mark_called(db: Database, rows: list[VoiceRow]) -> dict[int, str]:
    """Record each call as placed (what the worker records); {delivery id: CallSid}."""
    sids = {row.delivery_id: f"CA{row.delivery_id:032x}" for row in rows}
    with db.transaction() as session:
        for delivery_id, sid in sids.items():
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(state=DeliveryState.sent, provider_id=sid, sent_at=utcnow())
            )
    return sids


def call_params(sid: str, to: str, status: str = "in-progress", **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": status,
        "Called": to,
        "Caller": "+15005550006",
        "Direction": "outbound-api",
        "From": "+15005550006",
        "To": to,
        **extra,
    }


def signed(settings: Settings, url: str, params: dict[str, str], token: str | None = None) -> str:
    secret = token or settings.twilio.auth_token.get_secret_value()
    signature: str = RequestValidator(secret).compute_signature(url, params)
    return signature


def snapshot(db: Database) -> list[tuple[Any, ...]]:
    """Everything a webhook could change."""
    with db.read() as session:
        rows: list[tuple[Any, ...]] = []
        for statement in (
            select(Delivery.id, Delivery.state, Delivery.provider_id, Delivery.error_code),
            select(Recipient.id, Recipient.state, Recipient.final_at),
            select(Confirmation.id, Confirmation.answer),
            select(HelpRequest.id, HelpRequest.recipient_id),
        ):
            rows.extend(tuple(row) for row in session.execute(statement).all())
    return rows
