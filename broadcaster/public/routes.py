"""Public alert pages (no login, no personal data) and the alert audio file."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from broadcaster.alerts.audio import audio_file
from broadcaster.alerts.models import Alert, AlertState, AlertStatus
from broadcaster.api.deps import get_settings_dep, read_session
from broadcaster.errors import NotFound
from broadcaster.settings import Settings
from broadcaster.web.templating import render

router = APIRouter(prefix="/public", tags=["public"], include_in_schema=False)
LIVE = (AlertState.sending, AlertState.active)
CACHE = {"Cache-Control": "public, max-age=15"}


def _alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.state in (AlertState.draft, AlertState.pending_approval):
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    return alert


@router.get("", response_class=HTMLResponse)
def active_alerts(request: Request, session: Session = Depends(read_session)) -> HTMLResponse:
    """The district's active warnings, newest first (drills are not listed)."""
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.state.in_(LIVE), Alert.status == AlertStatus.actual)
            .order_by(Alert.issued_at.desc())
            .limit(50)
        )
    )
    page = render(request, "public_list.html", alerts=alerts)
    page.headers.update(CACHE)
    return page


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def one_alert(
    request: Request, alert_id: int, session: Session = Depends(read_session)
) -> HTMLResponse:
    """One warning, readable on a phone; drills are marked as drills."""
    page = render(request, "public_alert.html", alert=_alert(session, alert_id))
    page.headers.update(CACHE)
    return page


@router.get("/alerts/{alert_id}/audio.{fmt}")
async def alert_audio(
    alert_id: int,
    fmt: str,
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
) -> FileResponse:
    """The loudspeaker audio (mp3 or wav), rendered on first request."""
    if fmt not in ("mp3", "wav"):
        raise NotFound("只有 mp3 和 wav / mp3 or wav only")
    alert = _alert(session, alert_id)
    path = await run_in_threadpool(audio_file, alert, settings, fmt)
    media = "audio/mpeg" if fmt == "mp3" else "audio/wav"
    return FileResponse(
        path,
        media_type=media,
        filename=f"alert-{alert_id}.{fmt}",
        headers={"Cache-Control": "public, max-age=300"},
    )
