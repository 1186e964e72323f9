"""The field worker's page: the visit list on a phone, working offline and syncing later."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from broadcaster.auth.models import Role
from broadcaster.web.auth import page_user
from broadcaster.web.templating import render

router = APIRouter(include_in_schema=False)
WORKER_JS = Path(__file__).parent / "static" / "field-sw.js"


@router.get("/field/", response_class=HTMLResponse)
def field_page(request: Request) -> HTMLResponse:
    """The shell; the list itself comes from /api/v1/visits and is kept on the phone."""
    user = page_user(request, Role.field, Role.officer, Role.admin)
    page = render(request, "field.html", user=user)
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
