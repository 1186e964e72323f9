"""The field worker's page: the visit list on a phone, working offline and syncing later."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from broadcaster.api.deps import get_db, get_settings_dep
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.followup.visits import worker_of
from broadcaster.registry.importer.values import VULNERABILITY_LABELS
from broadcaster.settings import Settings
from broadcaster.web.auth import page_user
from broadcaster.web.templating import render

router = APIRouter(include_in_schema=False)
WORKER_JS = Path(__file__).parent / "static" / "field-sw.js"


@router.get("/field/", response_class=HTMLResponse)
def field_page(
    request: Request,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> HTMLResponse:
    """The shell; the list itself comes from /api/v1/visits and is kept on the phone."""
    user = page_user(request, Role.field, Role.officer, Role.admin)
    with db.read() as session:
        worker = worker_of(session, user.user_id)
        who = (worker.name, worker.phone, worker.role.value) if worker else None
    page = render(
        request,
        "field.html",
        user=user,
        worker=who,
        vulnerability=VULNERABILITY_LABELS,
        time_zone=settings.time_zone,  # times on the phone are the district's
    )
    page.headers["Cache-Control"] = "no-cache"
    return page


@router.get("/field/sw.js")
def field_service_worker() -> Response:
    """The service worker, served under /field/ so that it controls the page."""
    return Response(
        WORKER_JS.read_text(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/field/"},
    )
