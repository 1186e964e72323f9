"""Our alerts as CAP: the current message (Alert, Update — AllClear once lifted — or Cancel),
its area, no personal data."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.identifiers import new_identifier
from broadcaster.alerts.models import Alert, AlertState, MsgType
from broadcaster.feeds.cap import GB_T_2260, PublishedAlert, PublishedArea
from broadcaster.feeds.cap.model import Reference, ResponseType
from broadcaster.feeds.cap.values import BadValue, format_reference, parse_references
from broadcaster.feeds.geometry import geojson_rings
from broadcaster.feeds.messages import Message
from broadcaster.feeds.models import AlertMessage
from broadcaster.registry.models import Zone
from broadcaster.settings import Settings

ZONE_CODE = "broadcaster-zone"
_NOT_IN_IDS = re.compile(r"[\s,<&]")


def cap_id(text: str) -> str:
    """A CAP identifier or sender: no whitespace, commas, '<' or '&'."""
    return _NOT_IN_IDS.sub("_", text) or "_"


def versions(session: Session, alert: Alert) -> list[Reference]:
    """Every message about the alert, oldest first: the original, then updates and cancels.

    A feed's original keeps the feed's `sent`; ours is sent when issued.
    """
    messages = list(
        session.scalars(
            select(AlertMessage).where(AlertMessage.alert_id == alert.id).order_by(AlertMessage.id)
        )
    )
    own = (alert.sender, alert.identifier)
    sent = next((m.sent for m in messages if (m.sender, m.identifier) == own), None)
    found = [Reference(cap_id(alert.sender), cap_id(alert.identifier), sent or _issued(alert))]
    for message in messages:
        if message.msg_type is not MsgType.alert and (message.sender, message.identifier) != own:
            found.append(
                Reference(cap_id(message.sender), cap_id(message.identifier), message.sent)
            )
    return found


def last_change(session: Session, alert: Alert) -> dt.datetime:
    """When the alert was last issued, updated or cancelled here (Atom's `updated`)."""
    received = session.scalar(
        select(func.max(AlertMessage.received_at)).where(AlertMessage.alert_id == alert.id)
    )
    issued = _issued(alert)
    return max(issued, received) if received is not None else issued


def _issued(alert: Alert) -> dt.datetime:
    return alert.issued_at or alert.created_at


def own_message(session: Session, alert: Alert, settings: Settings, now: dt.datetime) -> Message:
    """An update or cancel made here: an identifier of ours, referencing the current message."""
    current = versions(session, alert)[-1]
    return Message(cap_id(alert.sender), new_identifier(settings), now, format_reference(current))


def _original_references(alert: Alert) -> tuple[Reference, ...]:
    """What an alert that began as an Update (of something we never saw) referenced."""
    if alert.msg_type is MsgType.alert or not alert.references:
        return ()
    try:
        return parse_references(alert.references)
    except BadValue:
        return ()


def areas(session: Session, alert: Alert) -> tuple[PublishedArea, ...]:
    """Zones by name with their GB/T 2260 code (or our zone code) and outline when known,
    then a feed's own polygons and circles."""
    found: list[PublishedArea] = []
    zones = session.scalars(select(Zone).where(Zone.code.in_(alert.zone_codes)).order_by(Zone.id))
    for zone in zones:
        code = (GB_T_2260, zone.region_code) if zone.region_code else (ZONE_CODE, zone.code)
        rings = tuple(tuple(ring) for ring in geojson_rings(zone.geometry) if len(ring) >= 3)
        found.append(PublishedArea(zone.name, geocodes=(code,), polygons=rings))
    area = alert.area or {}
    polygons = tuple(
        tuple((float(p[0]), float(p[1])) for p in ring) for ring in area.get("polygons", [])
    )
    circles = tuple((float(c[0]), float(c[1]), float(c[2])) for c in area.get("circles", []))
    if polygons or circles:
        name = "、".join(area.get("descriptions", [])) or alert.headline
        found.append(PublishedArea(name[:500], polygons=polygons, circles=circles))
    return tuple(found)


def published(session: Session, alert: Alert, settings: Settings) -> PublishedAlert:
    """The alert's current CAP message: the last of its versions, referencing the others."""
    history = versions(session, alert)
    current = history[-1]
    if len(history) > 1:
        msg_type, references = alert.msg_type, tuple(history[:-1])
    else:
        references = _original_references(alert)
        msg_type = alert.msg_type if references else MsgType.alert
    return PublishedAlert(
        identifier=current.identifier,
        sender=current.sender,
        sent=current.sent,
        hazard=alert.hazard,
        level=alert.level,
        headline=alert.headline,
        description=alert.body,
        areas=areas(session, alert),
        status=alert.status,
        msg_type=msg_type,
        references=references,
        instruction=alert.instruction,
        sender_name=settings.sender_name,
        web=settings.public_url(f"/public/alerts/{alert.id}"),
        expires=alert.expires_at,
        response_types=response_types(alert),
    )


def response_types(alert: Alert) -> tuple[ResponseType, ...]:
    """What people should do: nothing more once lifted (AllClear), leave under an evacuation
    order (Evacuate); otherwise left to the text."""
    if alert.state is AlertState.closed:
        return (ResponseType.all_clear,)
    if alert.evacuate and alert.state is not AlertState.cancelled:
        return (ResponseType.evacuate,)
    return ()
