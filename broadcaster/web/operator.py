"""The loudspeaker operator's page: what to play, a player, a download, and "played"."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from broadcaster.api.deps import client_ip, get_db, get_settings_dep
from broadcaster.api.loudspeakers import mark_played, open_tasks
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.errors import BroadcasterError
from broadcaster.followup.visits import worker_of
from broadcaster.settings import Settings
from broadcaster.web.auth import PageUser, check_csrf, page_user
from broadcaster.web.console.common import LEVELS, Format
from broadcaster.web.templating import render

router = APIRouter(include_in_schema=False)
ROLES = (Role.operator, Role.officer, Role.admin)


def _principal(user: PageUser, request: Request) -> Principal:
    return Principal(user.user_id, user.username, user.role, None, client_ip(request))


@router.get("/operator", response_class=HTMLResponse)
def operator_page(
    request: Request, db: Database = Depends(get_db), settings: Settings = Depends(get_settings_dep)
) -> HTMLResponse:
    user = page_user(request, *ROLES)
    with db.read() as session:
        tasks = open_tasks(session, who=_principal(user, request), settings=settings)
        worker = worker_of(session, user.user_id)
        name = f"{worker.name} · {worker.phone}" if worker else None
    return render(
        request,
        "operator.html",
        user=user,
        worker=name,
        tasks=tasks,
        levels=LEVELS,
        fmt=Format(settings.zone),
        message=request.query_params.get("msg"),
    )


@router.post("/operator/tasks/{task_id}/played")
def operator_played(
    task_id: Id,
    request: Request,
    csrf: str = Form(""),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    check_csrf(request, csrf)
    user = page_user(request, *ROLES)
    try:
        with db.transaction() as session:
            mark_played(session, task_id=task_id, who=_principal(user, request), settings=settings)
    except BroadcasterError as exc:
        return render(
            request,
            "message.html",
            status_code=exc.status_code,
            title="未能记录 / not recorded",
            text=exc.message,
        )
    return RedirectResponse("/operator?msg=played", status_code=303)
