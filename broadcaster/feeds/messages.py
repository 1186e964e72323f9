"""The CAP messages that act on an alert, kept so that a second copy is known as a duplicate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, MsgType
from broadcaster.feeds.models import AlertMessage


@dataclass(frozen=True)
class Message:
    """The CAP message that acts on an alert: who sent it, its id, when, and what it replaces."""

    sender: str
    identifier: str
    sent: dt.datetime
    references: str = ""


def record_message(session: Session, alert: Alert, message: Message, msg_type: MsgType) -> None:
    """Keep the message (sender + identifier unique) and note its kind on the alert."""
    session.add(
        AlertMessage(
            alert_id=alert.id,
            sender=message.sender,
            identifier=message.identifier,
            sent=message.sent,
            msg_type=msg_type,
        )
    )
    alert.msg_type = msg_type
    if message.references:
        alert.references = message.references[:500]
