"""Alert API: issue (idempotent), list, read with live counts, recipients, cancel, approve."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.authority import Issuer
from broadcaster.alerts.change_schemas import CloseIn
from broadcaster.alerts.models import Alert, AlertSource, AlertState, RecipientState, RevisionKind
from broadcaster.alerts.preview import Preview, preview
from broadcaster.alerts.schemas import AlertDetail, AlertIn, AlertOut, RecipientPage
from broadcaster.api.alert_changes import change
from broadcaster.api.deps import allow, get_db, get_redis, get_settings_dep, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.db.ids import Id, Offset
from broadcaster.delivery.approved import media_of, template_previews
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.errors import NotFound
from broadcaster.flows import approval
from broadcaster.flows import issuing as service
from broadcaster.flows.revising import Change
from broadcaster.plain_text import PlainText
from broadcaster.reports.counts import CountsCache
from broadcaster.reports.progress import progress
from broadcaster.reports.recipients import recipient_page
from broadcaster.reports.scorecard import Scorecard, scorecard
from broadcaster.settings import Settings
from channels.registry import media

router = APIRouter(prefix="/alerts", tags=["alerts"])
issuers = allow(Role.officer, Role.admin, Role.feed)
readers = allow(Role.officer, Role.admin, Role.feed)
# Households (names, phone tails) are for the duty desk only: an automated feed needs none.
duty = allow(Role.officer, Role.admin)


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
            available_channels=set(media()),
            idempotency_key=idempotency_key,
            issuer=Issuer.of(who),
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
    """Every channel's text and the household count, before anything is sent or saved; for
    providers that send approved templates only, the exact text, its length and SMS parts —
    a value over a template variable's limit is a 422 naming the provider and variable."""
    return preview(
        session,
        body=body,
        settings=settings,
        available=set(media()),
        templates=lambda alert: template_previews(alert, media=media_of(alert), settings=settings),
    )


@router.get("", response_model=list[AlertOut])
def list_alerts(
    limit: int = Query(default=50, ge=1, le=500),
    offset: Offset = 0,
    state: AlertState | None = Query(default=None, description="e.g. pending_approval"),
    session: Session = Depends(read_session),
    _: Principal = readers,
) -> list[Alert]:
    stmt = select(Alert).order_by(Alert.id.desc()).offset(offset).limit(limit)
    if state is not None:
        stmt = stmt.where(Alert.state == state)
    return list(session.scalars(stmt))


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(
    alert_id: Id,
    request: Request,
    session: Session = Depends(read_session),
    _: Principal = readers,
) -> AlertDetail:
    """The alert with live counts of households and deliveries (`counts_age_ms` says how
    old: an alert whose count is expensive reuses one up to a second old)."""
    alert = _alert(session, alert_id)
    base = AlertOut.model_validate(alert).model_dump()
    cache: CountsCache = request.app.state.counts_cache
    counts, age = cache.get(session, alert)
    return AlertDetail(
        **base,
        counts=counts,
        counts_age_ms=round(age * 1000),
        completed_at=alert.completed_at,
        progress=progress(session, alert, counts.households_targeted),
    )


@router.get("/{alert_id}/recipients", response_model=RecipientPage)
def recipients(
    alert_id: Id,
    state: RecipientState | None = None,
    zone: str | None = None,
    vulnerable: bool | None = None,
    offset: Offset = 0,
    limit: int = Query(default=50, ge=1, le=1000),
    session: Session = Depends(read_session),
    _: Principal = duty,
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
    alert_id: Id,
    body: CloseIn | None = None,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    redis_client: redis.Redis | None = Depends(get_redis),
    who: Principal = allow(Role.officer, Role.admin),
) -> AlertOut:
    """Cancel the alert (撤销, issued in error): queued deliveries withdrawn, open loudspeaker,
    visit and relay tasks closed, and a short correction sent to everyone already reached
    (households, groups, loudspeakers, relay holders). `/cancel/preview` shows it first."""
    asked = Change(RevisionKind.cancel, note=body.note if body else "")
    return change(db, settings, redis_client, who, alert_id, asked).alert


class RejectIn(BaseModel):
    reason: PlainText = Field(default="", max_length=500)


@router.post("/{alert_id}/approve", response_model=AlertOut)
def approve(
    alert_id: Id,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    redis_client: redis.Redis | None = Depends(get_redis),
    who: Principal = allow(Role.officer, Role.admin),
) -> Alert:
    """Send a held alert (someone other than its creator): planned, then enqueued."""
    with db.transaction() as session:
        approved = approval.approve(session, alert_id=alert_id, actor=who.actor, settings=settings)
    try_enqueue_sends(
        settings,
        redis_client,
        alert_id=alert_id,
        level=approved.alert.level,
        channel_counts=approved.channel_counts,
    )
    return approved.alert


@router.post("/{alert_id}/reject", response_model=AlertOut)
def reject(
    alert_id: Id,
    body: RejectIn | None = None,
    db: Database = Depends(get_db),
    who: Principal = allow(Role.officer, Role.admin),
) -> Alert:
    """Do not send a held alert: it ends cancelled, with who rejected it and why."""
    reason = body.reason if body else ""
    with db.transaction() as session:
        return approval.reject(session, alert_id=alert_id, actor=who.actor, reason=reason)


@router.get("/{alert_id}/scorecard", response_model=Scorecard)
def alert_scorecard(
    alert_id: Id,
    session: Session = Depends(read_session),
    _: Principal = allow(Role.officer, Role.admin),
) -> Scorecard:
    """A drill's (or any alert's) scorecard, counted from the record now."""
    return scorecard(session, _alert(session, alert_id))
