"""CAP out: an Atom feed of our alerts and each alert as a CAP 1.2 document (public)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertStatus
from broadcaster.alerts.visibility import is_public, public_condition
from broadcaster.api.deps import get_settings_dep, read_session
from broadcaster.db.base import utcnow
from broadcaster.db.ids import Id
from broadcaster.errors import NotFound
from broadcaster.feeds.cap import AtomEntry, CapError, event_name, to_atom, to_cap_xml
from broadcaster.feeds.outbound import last_change, published
from broadcaster.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/cap", tags=["cap"])
CACHE = {"Cache-Control": "public, max-age=15"}
FEED_SIZE = 100


def _public(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or not is_public(alert):
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    return alert


def cap_document(session: Session, alert: Alert, settings: Settings) -> bytes:
    """The alert's current CAP message (drills carry status Exercise/Test and 【演练】)."""
    return to_cap_xml(published(session, alert, settings))


@router.get("/alerts/{alert_id}.xml", response_class=Response)
def alert_xml(
    alert_id: Id,
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    """One alert as CAP 1.2: no household, person or worker data, only the warning and area."""
    document = cap_document(session, _public(session, alert_id), settings)
    return Response(document, media_type="application/cap+xml", headers=CACHE)


@router.get("/alerts.atom", response_class=Response)
def alerts_atom(
    drills: bool = Query(
        default=False, description="Include exercises and tests made public (marked)."
    ),
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    """The latest actual alerts in force here as Atom, each entry linking its CAP document."""
    query = select(Alert).where(public_condition())
    if not drills:
        query = query.where(Alert.status == AlertStatus.actual)
    entries: list[AtomEntry] = []
    for alert in session.scalars(query.order_by(Alert.id.desc()).limit(FEED_SIZE)):
        try:
            message = published(session, alert, settings)
            to_cap_xml(message)  # only what validates is announced
        except (CapError, ValueError):
            log.exception("alert %s cannot be published as CAP", alert.id)
            continue
        mark = "【演练】" if alert.is_drill else ""
        entries.append(
            AtomEntry(
                title=f"{mark}{event_name(alert.hazard, alert.level)}：{alert.headline}",
                cap_url=settings.public_url(f"/cap/alerts/{alert.id}.xml"),
                updated=last_change(session, alert),
                summary=alert.body[:500],
                published=alert.issued_at,
            )
        )
    document = to_atom(
        f"{settings.sender_name} 预警信息",
        entries,
        feed_id=settings.public_url("/cap/alerts.atom"),
        self_url=settings.public_url("/cap/alerts.atom"),
        updated=max((e.updated for e in entries), default=utcnow()),
        author=settings.sender_name,
    )
    return Response(document, media_type="application/atom+xml", headers=CACHE)
