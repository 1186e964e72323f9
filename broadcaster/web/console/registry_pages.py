"""The registry tabs (/console/registry): households, zones, groups, speakers, workers, keys,
sign-ins."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.auth.models import ApiKey, AuditEvent, Role, User
from broadcaster.errors import BroadcasterError
from broadcaster.registry.models import Group, Loudspeaker, Worker, WorkerRole, Zone
from broadcaster.registry.service import search_households
from broadcaster.web.auth import PageUser
from broadcaster.web.console.common import PAGE_SIZE, console_user, db_of, page
from broadcaster.web.console.zonetree import zone_tree

router = APIRouter()
TABS = ("households", "import", "zones", "groups", "speakers", "workers", "keys", "logins")
ADMIN_TABS = ("import", "keys", "logins")
LOGIN_ACTIONS = ("login.ok", "login.failed", "login.throttled", "logout")


def _households(session: Session, request: Request, page_no: int) -> dict[str, Any]:
    q = request.query_params
    text = q.get("q", "").strip()[:100]
    zone = q.get("zone", "").strip()[:64]
    vulnerable = {"1": True, "0": False}.get(q.get("vulnerable", ""))
    error = None
    try:
        total, rows = search_households(
            session,
            zone=zone or None,
            vulnerable=vulnerable,
            query=text or None,
            offset=(page_no - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    except BroadcasterError as exc:
        total, rows, error = 0, [], exc.message
    query = {"tab": "households", "q": text, "zone": zone, "vulnerable": q.get("vulnerable", "")}
    return {
        "households": rows,
        "total": total,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "search": query,
        "base_query": urlencode({k: v for k, v in query.items() if v}),
        "search_error": error,
    }


def _zones(session: Session) -> dict[str, Any]:
    roots, hazards = zone_tree(session)
    return {"roots": roots, "hazard_zones": hazards}


def _groups(session: Session) -> dict[str, Any]:
    rows = session.execute(
        select(Group, Zone.name).outerjoin(Zone, Zone.id == Group.zone_id).order_by(Group.code)
    ).all()
    return {"groups": rows}


def _speakers(session: Session) -> dict[str, Any]:
    rows = session.execute(
        select(Loudspeaker, Zone.name, Worker.name)
        .join(Zone, Zone.id == Loudspeaker.zone_id)
        .outerjoin(Worker, Worker.id == Loudspeaker.operator_worker_id)
        .order_by(Loudspeaker.code)
    ).all()
    return {"speakers": rows}


def _workers(session: Session, request: Request, page_no: int) -> dict[str, Any]:
    role = request.query_params.get("role", "")
    stmt = select(Worker)
    if role in WorkerRole.__members__:
        stmt = stmt.where(Worker.role == WorkerRole(role))
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    workers = list(
        session.scalars(
            stmt.order_by(Worker.role, Worker.id).offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    )
    counts = dict(session.execute(select(Worker.role, func.count()).group_by(Worker.role)).all())
    linked = [w.user_id for w in workers if w.user_id is not None]
    logins = dict(session.execute(select(User.id, User.username).where(User.id.in_(linked))).all())
    return {
        "workers": workers,
        "logins": {w.id: logins.get(w.user_id) for w in workers if w.user_id is not None},
        "total": total,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "role": role,
        "role_counts": {r.value: int(n) for r, n in counts.items()},
        "base_query": urlencode({"tab": "workers", "role": role}),
    }


def _keys(session: Session) -> dict[str, Any]:
    keys = session.execute(
        select(ApiKey, User.username, User.role)
        .join(User, User.id == ApiKey.user_id)
        .order_by(ApiKey.id)
    ).all()
    users = list(session.scalars(select(User).order_by(User.username)))
    return {"keys": keys, "users": users}


def _logins(session: Session) -> dict[str, Any]:
    """The latest sign-ins, failures, throttled tries and logouts (from the audit log)."""
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(LOGIN_ACTIONS))
        .order_by(AuditEvent.id.desc())
        .limit(PAGE_SIZE)
    )
    return {"logins": list(rows)}


def tab_context(
    session: Session, request: Request, user: PageUser, tab: str, page_no: int
) -> dict[str, Any]:
    if tab == "zones":
        return _zones(session)
    if tab == "groups":
        return _groups(session)
    if tab == "speakers":
        return _speakers(session)
    if tab == "workers":
        return _workers(session, request, page_no)
    if tab == "keys" and user.role is Role.admin:
        return _keys(session)
    if tab == "logins" and user.role is Role.admin:
        return _logins(session)
    if tab == "import":
        return {}
    return _households(session, request, page_no)


@router.get("/console/registry", response_class=HTMLResponse)
def registry_page(
    request: Request,
    tab: str = "households",
    page_no: int = Query(default=1, alias="page", ge=1, le=100_000),
) -> HTMLResponse:
    user = console_user(request)
    if tab not in TABS or (tab in ADMIN_TABS and user.role is not Role.admin):
        tab = "households"
    with db_of(request).read() as session:
        context = tab_context(session, request, user, tab, page_no)
    return page(
        request,
        "console_registry.html",
        user,
        "registry",
        tab=tab,
        tabs=[t for t in TABS if t not in ADMIN_TABS or user.role is Role.admin],
        page_number=page_no,
        report=None,
        import_error=None,
        **context,
    )
