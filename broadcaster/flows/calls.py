"""Calls under way: what a call speaks, and the key presses that confirm its household."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import select

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.texts import LANGUAGES, NOTICE_HELP, render
from broadcaster.auth.audit import Actor
from broadcaster.confirm.models import Answer, Confirmation, ConfirmedBy, ConfirmVia
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.delivery.help_text import help_text, household_details
from broadcaster.delivery.models import Delivery
from broadcaster.flows.answering import answer_for_households
from broadcaster.flows.senders import Answerer, answerers
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from channels.hooks import CallScript

log = logging.getLogger(__name__)
# The rendered audio of an alert in a language (set on app.state as `voice_audio`).
AudioSource = Callable[[Alert, str], str | None]


@dataclass(frozen=True)
class CallTarget:
    """The delivery a call belongs to and what the call needs to speak."""

    delivery_id: int
    address: str
    language: str
    alert: Alert
    # A call to a worker about a household's call for help: what to say about the household.
    help_details: dict[str, str] | None = None


def load_target(
    db: Database, settings: Settings, *, medium: str, delivery_id: int
) -> CallTarget | None:
    """The call's delivery on this medium, with its alert and the called person's language."""
    with db.read() as session:
        row = session.execute(
            select(Delivery, Alert, Person.language)
            .join(Alert, Alert.id == Delivery.alert_id)
            .outerjoin(Person, Person.id == Delivery.person_id)
            .where(Delivery.id == delivery_id, Delivery.channel == medium)
        ).first()
        if row is None:
            return None
        delivery, alert, language = row
        details = None
        if delivery.notice == NOTICE_HELP and delivery.recipient_id is not None:
            found = household_details(session, [delivery.recipient_id], settings.language)
            details = found.get(delivery.recipient_id)
    return CallTarget(
        delivery.id,
        delivery.address,
        language if language in LANGUAGES else settings.language,
        alert,
        details,
    )


def call_script(
    db: Database, settings: Settings, *, medium: str, delivery_id: int, audio: AudioSource | None
) -> CallScript | None:
    """What the call says: the alert's text for the medium in the person's language, and its
    rendered audio; None for a delivery that is not one of this medium's calls."""
    target = load_target(db, settings, medium=medium, delivery_id=delivery_id)
    if target is None:
        log.warning("call hook for unknown %s delivery %s", medium, delivery_id)
        return None
    if target.help_details is not None:
        text = help_text(target.alert, settings, medium, target.help_details)
        return CallScript(text, None, settings.language)
    text = render(
        target.alert,
        channel=medium,
        language=target.language,
        templates_dir=settings.config_dir / "templates",
        sender=settings.sender_name,
    ).template
    audio_url = audio(target.alert, target.language) if audio is not None else None
    return CallScript(text, audio_url, target.language)


def confirm_by_key(
    db: Database,
    *,
    medium: str,
    delivery_id: int,
    answer: Answer,
    digit: str,
    call_id: str,
    settings: Settings | None = None,
    connection: redis.Redis | None = None,
) -> bool:
    """Record the household's key press; False for an unknown delivery or a repeated request
    (or a key pressed by a worker called about a household's call for help). Help notices it
    queues are enqueued once committed (with `settings`; else the reconciler sends them)."""
    text = f"按键 {digit} / key {digit} · {call_id}"
    now = utcnow()
    with db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.channel != medium or delivery.recipient_id is None:
            return False
        if delivery.notice == NOTICE_HELP:
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
        listed = answerers(
            session, alert_id=recipient.alert_id, sender=delivery.address, medium=medium
        )
        who = next(
            (item for item in listed if item.recipient_id == recipient.id),
            Answerer(recipient.id, ConfirmedBy.member, delivery.person_id),
        )
        answered = answer_for_households(  # a proxy's key press is a proxy's (policy decides)
            session,
            answerers=[who],
            answer=answer,
            via=ConfirmVia.keypress,
            actor=Actor(f"call:{delivery.address}"),
            now=now,
            text=text,
        )
        level = session.get_one(Alert, recipient.alert_id).level
    sends = answered[0].sends if answered else {}
    if sends and settings is not None:
        try_enqueue_sends(
            settings, connection, alert_id=recipient.alert_id, level=level, channel_counts=sends
        )
    return True
