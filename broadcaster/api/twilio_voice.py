"""Voice call webhooks: the call's TwiML, key presses that confirm households, call statuses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.texts import LANGUAGES, render
from broadcaster.api.deps import get_db, get_settings_dep
from broadcaster.api.twilio_status import twilio_form
from broadcaster.auth.audit import Actor
from broadcaster.confirm.models import Answer, Confirmation, ConfirmVia
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.batcher import GroupCommit
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.statuses import StatusReport
from broadcaster.errors import ValidationFailed
from broadcaster.flows.confirming import record_confirmation
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from channels.voice_twilio import VoiceSpeech, call_state, is_machine
from channels.voice_twiml import (
    MAX_PLAYS,
    call_twiml,
    gather_reply_twiml,
    hangup_twiml,
    say_language,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/hooks", tags=["hooks"])
CHANNEL = "voice"
TWIML_PATH = "/hooks/twilio/voice/twiml"
GATHER_PATH = "/hooks/twilio/voice/gather"
STATUS_PATH = "/hooks/twilio/voice/status"
KEY_ANSWERS = {"1": Answer.safe, "2": Answer.needs_help}
HANGUP = hangup_twiml()
# The rendered audio of an alert in a language, for speak_mode "play" (set on app.state).
AudioSource = Callable[[Alert, str], str | None]


@dataclass(frozen=True)
class CallTarget:
    """The delivery a call belongs to and what the call needs to speak."""

    delivery_id: int
    address: str
    language: str
    alert: Alert


def twiml_response(text: str) -> Response:
    return Response(text, media_type="application/xml")


def delivery_ref(request: Request) -> int:
    """Our delivery id from the `d` query parameter, or a 422."""
    ref = request.query_params.get("d", "")
    if not ref.isdigit():
        raise ValidationFailed("缺少投递编号 / missing delivery reference", field="d")
    return int(ref)


def attempt_of(request: Request) -> int:
    """Which prompt of the call this is (1 when absent or malformed)."""
    raw = request.query_params.get("attempt", "1")
    return min(max(int(raw), 1), MAX_PLAYS + 1) if raw.isdigit() else 1


def hook_url(settings: Settings, path: str, delivery_id: int, attempt: int) -> str:
    """A public webhook URL for one delivery and attempt, as the provider will sign it."""
    return settings.public_url(path) + f"?d={delivery_id}&attempt={attempt}"


def voice_speech(settings: Settings) -> VoiceSpeech:
    """How calls speak, from the deployment's voice settings."""
    return VoiceSpeech(speak_mode=settings.voice.speak_mode, say_voice=settings.voice.say_voice)


def load_target(db: Database, settings: Settings, delivery_id: int) -> CallTarget | None:
    """The voice delivery with its alert and the called person's language."""
    with db.read() as session:
        row = session.execute(
            select(Delivery, Alert, Person.language)
            .join(Alert, Alert.id == Delivery.alert_id)
            .outerjoin(Person, Person.id == Delivery.person_id)
            .where(Delivery.id == delivery_id, Delivery.channel == CHANNEL)
        ).first()
    if row is None:
        return None
    delivery, alert, language = row
    return CallTarget(
        delivery.id,
        delivery.address,
        language if language in LANGUAGES else settings.language,
        alert,
    )


def call_document(
    db: Database, settings: Settings, delivery_id: int, attempt: int, audio: AudioSource | None
) -> str:
    """The TwiML of one call attempt: the alert's spoken text (or audio), then a key press."""
    target = load_target(db, settings, delivery_id)
    if target is None:
        log.warning("TwiML asked for unknown voice delivery %s", delivery_id)
        return HANGUP
    speech = voice_speech(settings)
    script = render(
        target.alert,
        channel=CHANNEL,
        language=target.language,
        templates_dir=settings.config_dir / "templates",
        sender=settings.sender_name,
    ).template
    audio_url = None
    if speech.speak_mode == "play" and audio is not None:
        audio_url = audio(target.alert, target.language)
    return call_twiml(
        script=script,
        audio_url=audio_url,
        gather_url=hook_url(settings, GATHER_PATH, delivery_id, attempt),
        language=say_language(target.language),
        voice=speech.say_voice,
        attempt=attempt,
        replay_url=hook_url(settings, TWIML_PATH, delivery_id, attempt + 1),
    )


def confirm_by_key(
    db: Database, *, delivery_id: int, answer: Answer, digit: str, call_sid: str
) -> bool:
    """Record the household's key press; False for an unknown delivery or a repeated request."""
    text = f"按键 {digit} / key {digit} · {call_sid}"
    now = utcnow()
    with db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.channel != CHANNEL or delivery.recipient_id is None:
            return False
        recipient = session.get(Recipient, delivery.recipient_id, with_for_update=True)
        assert recipient is not None
        repeated = session.scalar(
            select(Confirmation.id)
            .where(
                Confirmation.recipient_id == recipient.id,
                Confirmation.via == ConfirmVia.keypress,
                Confirmation.text == text,
            )
            .limit(1)
        )
        if repeated is not None:  # the provider sent this key press again
            return False
        record_confirmation(
            session,
            recipient=recipient,
            via=ConfirmVia.keypress,
            answer=answer,
            actor=Actor(f"call:{delivery.address}"),
            now=now,
            person_id=delivery.person_id,
            text=text,
        )
        return True


def call_report(params: dict[str, str], delivery_id: int) -> StatusReport | None:
    """Our report from a call status callback (or AMD verdict); None when it says nothing."""
    sid = params.get("CallSid", "")
    found = call_state(params.get("CallStatus") or None, params.get("AnsweredBy") or None)
    if not sid or found is None:
        return None
    state, code = found
    return StatusReport(delivery_id, sid, DeliveryState(state.value), code)


async def submit(request: Request, report: StatusReport) -> None:
    committer: GroupCommit[StatusReport] = request.app.state.status_reports
    await committer.submit(report)


@router.post("/twilio/voice/twiml")
async def twilio_voice_twiml(
    request: Request, settings: Settings = Depends(get_settings_dep), db: Database = Depends(get_db)
) -> Response:
    """The call's TwiML (signature-checked); a machine that answered is hung up on."""
    params = await twilio_form(request, settings)
    delivery_id, attempt = delivery_ref(request), attempt_of(request)
    if is_machine(params.get("AnsweredBy")):
        report = call_report(params, delivery_id)
        if report is not None:
            await submit(request, report)
        return twiml_response(HANGUP)
    audio: AudioSource | None = getattr(request.app.state, "voice_audio", None)
    text = await run_in_threadpool(call_document, db, settings, delivery_id, attempt, audio)
    return twiml_response(text)


@router.post("/twilio/voice/gather")
async def twilio_voice_gather(
    request: Request, settings: Settings = Depends(get_settings_dep), db: Database = Depends(get_db)
) -> Response:
    """A key pressed during the call: 1 safe, 2 needs help, 9 replay, else one more prompt."""
    params = await twilio_form(request, settings)
    delivery_id, attempt = delivery_ref(request), attempt_of(request)
    digit = params.get("Digits", "").strip()
    target = await run_in_threadpool(load_target, db, settings, delivery_id)
    if target is None:
        log.warning("key press for unknown voice delivery %s", delivery_id)
        return twiml_response(HANGUP)
    answer = KEY_ANSWERS.get(digit)
    if answer is not None:
        await run_in_threadpool(
            lambda: confirm_by_key(
                db,
                delivery_id=delivery_id,
                answer=answer,
                digit=digit,
                call_sid=params.get("CallSid", ""),
            )
        )
    reply = gather_reply_twiml(
        digit,
        replay_url=hook_url(settings, TWIML_PATH, delivery_id, attempt + 1),
        gather_url=hook_url(settings, GATHER_PATH, delivery_id, attempt + 1),
        language=say_language(target.language),
        voice=voice_speech(settings).say_voice,
        attempt=attempt,
    )
    return twiml_response(reply)


@router.post("/twilio/voice/status", response_class=PlainTextResponse)
async def twilio_voice_status(
    request: Request, settings: Settings = Depends(get_settings_dep)
) -> str:
    """Twilio's call status callback and async AMD verdict (the `d` query names our delivery)."""
    params = await twilio_form(request, settings)
    report = call_report(params, delivery_ref(request))
    if report is not None:
        await submit(request, report)
    return ""
