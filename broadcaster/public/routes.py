"""Public alert pages (no login, no personal data, briefly cacheable), the embeddable list
for community websites, and the alert audio file."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from broadcaster.alerts.audio import audio_file
from broadcaster.alerts.models import Alert
from broadcaster.alerts.visibility import may_view
from broadcaster.api.deps import get_settings_dep, read_session
from broadcaster.db.ids import Id
from broadcaster.errors import NotFound
from broadcaster.public.view import listed, public_alerts
from broadcaster.settings import Settings
from broadcaster.web.templating import render

router = APIRouter(prefix="/public", tags=["public"], include_in_schema=False)
CACHE = {"Cache-Control": "public, max-age=10"}
VIEW_KEY = Query(default=None, max_length=40, description="view key of an alert not public")
EMBED_JS = """(function () {
  "use strict";
  var me = document.currentScript;
  var frame = document.createElement("iframe");
  frame.src = %(src)s;
  frame.title = "预警信息 / warnings";
  frame.loading = "lazy";
  frame.style.cssText = "width:100%%;border:0;min-height:120px";
  frame.height = (me && me.getAttribute("data-height")) || "360";
  window.addEventListener("message", function (event) {
    if (event.source === frame.contentWindow && event.data && event.data.broadcasterHeight) {
      frame.height = String(Math.min(2000, Math.max(120, event.data.broadcasterHeight)));
    }
  });
  me.parentNode.insertBefore(frame, me.nextSibling);
})();
"""


def _alert(session: Session, alert_id: int, settings: Settings, key: str | None) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or not may_view(settings, alert, key):
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    return alert


def _cached(page: Response) -> Response:
    page.headers.update(CACHE)
    return page


@router.get("", response_class=HTMLResponse)
def active_alerts(
    request: Request,
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    """The district's warnings in force, newest first (drills only when made public)."""
    alerts = public_alerts(session, settings, listed(session))
    return _cached(render(request, "public_list.html", alerts=alerts, sender=settings.sender_name))


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def one_alert(
    request: Request,
    alert_id: Id,
    k: str | None = VIEW_KEY,
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    """One warning, readable on a phone, to link from groups and articles; drills are marked
    (a drill not made public only with the view key its own messages carry)."""
    try:
        (alert,) = public_alerts(session, settings, [_alert(session, alert_id, settings, k)])
    except NotFound:
        title, text = (
            "预警不存在 / no such alert",
            "请查看当前预警 / see /public for warnings in force",
        )
        return render(request, "message.html", status_code=404, title=title, text=text)
    return _cached(render(request, "public_alert.html", alert=alert, sender=settings.sender_name))


@router.get("/embed", response_class=HTMLResponse)
def embed_page(
    request: Request,
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    """The compact list a community website shows in an iframe (see /public/embed.js)."""
    alerts = public_alerts(session, settings, listed(session, limit=10))
    return _cached(render(request, "public_embed.html", alerts=alerts, sender=settings.sender_name))


@router.get("/embed.js")
def embed_script(settings: Settings = Depends(get_settings_dep)) -> Response:
    """`<script src=".../public/embed.js"></script>` puts the compact list where it stands."""
    src = '"' + settings.public_url("/public/embed").replace('"', "%22") + '"'
    return Response(
        EMBED_JS % {"src": src},
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/alerts/{alert_id}/audio.{fmt}")
async def alert_audio(
    alert_id: Id,
    fmt: str,
    k: str | None = VIEW_KEY,
    session: Session = Depends(read_session),
    settings: Settings = Depends(get_settings_dep),
) -> FileResponse:
    """The loudspeaker audio (mp3 or wav), rendered on first request."""
    if fmt not in ("mp3", "wav"):
        raise NotFound("只有 mp3 和 wav / mp3 or wav only")
    alert = _alert(session, alert_id, settings, k)
    path = await run_in_threadpool(audio_file, alert, settings, fmt)
    media = "audio/mpeg" if fmt == "mp3" else "audio/wav"
    return FileResponse(
        path,
        media_type=media,
        filename=f"alert-{alert_id}.{fmt}",
        headers={"Cache-Control": "public, max-age=300"},
    )
