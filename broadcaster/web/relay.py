"""Relay pages (GET shows the text, only POST records "forwarded") and the duty-board API."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from broadcaster.alerts.models import Alert
from broadcaster.api.deps import allow, client_ip, get_db, get_settings_dep, read_session
from broadcaster.auth.audit import Actor
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.delivery.items import ItemContext
from broadcaster.errors import BroadcasterError
from broadcaster.registry.models import Group
from broadcaster.relay import service
from broadcaster.relay.items import KIND_NAMES
from broadcaster.relay.listing import RelayTaskOut, relay_tasks
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.relay.tokens import read_relay_token
from broadcaster.settings import Settings
from broadcaster.web.links import LinkProblem, problem_page
from broadcaster.web.templating import render
from channels.base import TextForm

pages = APIRouter(tags=["relay pages"], include_in_schema=False)
api = APIRouter(prefix="/relay-tasks", tags=["relay-tasks"])
duty = allow(Role.officer, Role.admin)
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

INVALID = LinkProblem(
    404, "链接无效 / invalid link", "请核对短信中的链接。/ Check the link in the SMS."
)
NOT_YOURS = LinkProblem(
    403,
    "不是您的转发任务 / not your relay task",
    "这个链接属于另一位群主的转发任务。/ This link belongs to someone else's relay task.",
)


@dataclass(frozen=True)
class RelayView:
    task: RelayTask
    group: Group
    alert: Alert
    holder: int


def resolve(db: Database, settings: Settings, token: str) -> RelayView:
    """The task behind a token and the holder it was made for, or a LinkProblem."""
    ids = read_relay_token(settings.secret_key.get_secret_value().encode(), token)
    if ids is None:
        raise INVALID
    task_id, holder = ids
    with db.read() as session:
        task = session.get(RelayTask, task_id)
        if task is None:
            raise INVALID
        if holder not in service.holders(task):
            raise NOT_YOURS
        view = RelayView(
            task,
            session.get_one(Group, task.group_id),
            session.get_one(Alert, task.alert_id),
            holder,
        )
        session.expunge_all()
    return view


def group_text(settings: Settings, alert: Alert) -> str:
    """The alert as a group post (what the owner pastes), with its public page and how to
    confirm."""
    ctx = ItemContext(settings, alert, TextForm.group_post)
    return ctx.text().personal(ctx.public_link())


def _page(
    request: Request, settings: Settings, view: RelayView, *, status: int = 200, note: str = ""
) -> HTMLResponse:
    page = render(
        request,
        "relay.html",
        status_code=status,
        task=view.task,
        group=view.group,
        alert=view.alert,
        kind_name=KIND_NAMES.get(view.group.kind, "群"),
        text=group_text(settings, view.alert),
        note=note,
        states=RelayState,
    )
    page.headers.update(PRIVATE)
    return page


def _problem(request: Request, problem: LinkProblem) -> HTMLResponse:
    page = problem_page(request, problem)
    page.headers.update(PRIVATE)
    return page


@pages.get("/relay/{token}", response_class=HTMLResponse)
async def show(
    request: Request,
    token: str,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> HTMLResponse:
    """The text to paste, a copy button and the "forwarded" button. Never changes anything."""
    try:
        view = await run_in_threadpool(resolve, db, settings, token)
    except LinkProblem as problem:
        return _problem(request, problem)
    return _page(request, settings, view)


@pages.post("/relay/{token}", response_class=HTMLResponse)
async def forwarded(
    request: Request,
    token: str,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> HTMLResponse:
    """Record that the holder forwarded the text into the group; a second time changes nothing."""
    try:
        view = await run_in_threadpool(resolve, db, settings, token)
    except LinkProblem as problem:
        return _problem(request, problem)
    try:
        view = await run_in_threadpool(_forward, db, view, client_ip(request), settings)
    except BroadcasterError as exc:
        current = await run_in_threadpool(resolve, db, settings, token)
        return _page(request, settings, current, status=exc.status_code, note=exc.message)
    return _page(request, settings, view, note="已记录，谢谢！/ Recorded, thank you!")


def _forward(db: Database, view: RelayView, ip: str | None, settings: Settings) -> RelayView:
    with db.transaction() as session:
        task = service.mark_forwarded(
            session,
            task_id=view.task.id,
            by=service.holder_name(session, view.task, view.holder),
            by_worker_id=view.holder or None,
            actor=Actor(f"relay:{view.holder or 'phone'}:{view.task.id}", ip),
            now=utcnow(),
            zone=settings.zone,
        )
        session.flush()
        session.expunge(task)
    return RelayView(task, view.group, view.alert, view.holder)


@api.get("", response_model=list[RelayTaskOut])
def list_tasks(
    alert_id: Id | None = None,
    state: RelayState | None = None,
    flagged: bool | None = None,
    limit: int = Query(default=500, ge=1, le=5000),
    session: Session = Depends(read_session),
    _: Principal = duty,
) -> list[RelayTaskOut]:
    """Relay tasks for the duty board: escalated (flagged) ones first, then by due time."""
    return relay_tasks(session, alert_id=alert_id, state=state, flagged=flagged, limit=limit)


@api.post("/{task_id}/forwarded", response_model=RelayTaskOut)
def forwarded_by_officer(
    task_id: Id,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = duty,
) -> RelayTaskOut:
    """An owner who called the duty desk: the officer records the forwarding for them."""
    with db.transaction() as session:
        service.mark_forwarded(
            session,
            task_id=task_id,
            by=who.actor.name,
            by_worker_id=None,
            actor=who.actor,
            now=utcnow(),
            zone=settings.zone,
        )
    with db.read() as session:
        return relay_tasks(session, task_id=task_id, limit=1)[0]
