"""Alert API: issue (idempotent), list, read with live counts, recipients, cancel."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts import service
from broadcaster.alerts.counts import alert_counts
from broadcaster.alerts.models import Alert, AlertSource, RecipientState
from broadcaster.alerts.preview import Preview, preview
from broadcaster.alerts.recipients import recipient_page
from broadcaster.alerts.schemas import AlertDetail, AlertIn, AlertOut, RecipientPage
from broadcaster.api.deps import allow, get_db, get_redis, get_settings_dep, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.delivery.channel_config import registry
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.errors import NotFound
from broadcaster.settings import Settings

router = APIRouter(prefix="/alerts", tags=["alerts"])
issuers = allow(Role.officer, Role.admin, Role.feed)
readers = allow(Role.officer, Role.admin, Role.feed)


def _alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    return alert


@router.post("", response_model=AlertOut, status_code=201)
def issue(
    body: AlertIn,
    response: Response,
    idempotency_key: str | None = Header(default=None, max_length=200),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    redis_client: redis.Redis | None = Depends(get_redis),
    who: Principal = issuers,
) -> Alert:
    """Issue an alert to every household of its zones; planning commits before any send."""
    source = AlertSource.feed if who.role is Role.feed else AlertSource.officer
    with db.transaction() as session:
        issued = service.issue_alert(
            session,
            body=body,
            actor=who.actor,
            source=source,
            settings=settings,
            available_channels=set(registry()),
            idempotency_key=idempotency_key,
        )
    if issued.created:
        try_enqueue_sends(
            settings,
            redis_client,
            alert_id=issued.alert.id,
            level=issued.alert.level,
            channel_counts=issued.channel_counts,
        )
    else:
        response.status_code = 200
    return issued.alert


@router.post("/preview", response_model=Preview)
def preview_alert(
    body: AlertIn,
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
    _: Principal = issuers,
) -> Preview:
    """Every channel's text and the household count, before anything is sent or saved."""
    return preview(session, body=body, settings=settings, available=set(registry()))


@router.get("", response_model=list[AlertOut])
def list_alerts(
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
    session: Session = Depends(read_session),
    _: Principal = readers,
) -> list[Alert]:
    stmt = select(Alert).order_by(Alert.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(stmt))


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(
    alert_id: int, session: Session = Depends(read_session), _: Principal = readers
) -> AlertDetail:
    """The alert with live counts of households and deliveries."""
    alert = _alert(session, alert_id)
    base = AlertOut.model_validate(alert).model_dump()
    return AlertDetail(**base, counts=alert_counts(session, alert))


@router.get("/{alert_id}/recipients", response_model=RecipientPage)
def recipients(
    alert_id: int,
    state: RecipientState | None = None,
    zone: str | None = None,
    vulnerable: bool | None = None,
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=50, ge=1, le=1000),
    session: Session = Depends(read_session),
    _: Principal = readers,
) -> RecipientPage:
    """The alert's households, most urgent first, with filters."""
    alert = _alert(session, alert_id)
    return recipient_page(
        session,
        alert=alert,
        state=state,
        zone=zone,
        vulnerable=vulnerable,
        offset=offset,
        limit=limit,
    )


@router.post("/{alert_id}/cancel", response_model=AlertOut)
def cancel(
    alert_id: int,
    db: Database = Depends(get_db),
    who: Principal = allow(Role.officer, Role.admin),
) -> Alert:
    """Cancel the alert: every delivery still queued is withdrawn."""
    with db.transaction() as session:
        alert, _withdrawn = service.cancel_alert(session, alert_id=alert_id, actor=who.actor)
    return alert
