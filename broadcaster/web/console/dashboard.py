"""The duty board (/console): live funnels, coverage by zone, help queue, approvals, speakers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from broadcaster.alerts import coverage
from broadcaster.alerts.models import Alert
from broadcaster.auth import cookies as web_session
from broadcaster.auth.models import Role, User
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.registry.models import Zone
from broadcaster.web.console import board
from broadcaster.web.console.alert_page import hazard_codes
from broadcaster.web.console.common import (
    alongside,
    console_user,
    db_of,
    missing,
    page,
)
from broadcaster.web.console.duty import shift_context
from broadcaster.web.console.live import active_alerts, funnels

router = APIRouter()
HOMES = {Role.officer: "/console", Role.admin: "/console", Role.operator: "/operator"}
FRAGMENTS = ("alerts", "help", "approvals", "speakers", "coverage", "shift")


@router.get("/")
def home(request: Request) -> Response:
    """Each role's start page (the login form for strangers)."""
    web = web_session.current(request)
    target = "/login?next=/console"
    if web is not None:
        with db_of(request).read() as session:
            user = session.get(User, web.user_id)
            if user is not None and user.active:
                target = HOMES.get(user.role, "/field/")
    return RedirectResponse(target, status_code=303)


def coverage_context(session: Session, alerts: list[Alert], chosen: int | None) -> dict[str, Any]:
    """The alert whose coverage is shown (the one asked for, else the first unfinished one)."""
    alert = next((a for a in alerts if a.id == chosen), None)
    if alert is None and chosen is not None:
        alert = session.get(Alert, chosen)
    if alert is None and alerts:
        alert = alerts[0]
    rows = coverage.rolled_up(session, alert.id) if alert else []
    hazards = coverage.hazard_rows(session, alert.id, hazard_codes(session, alert)) if alert else []
    return {"coverage_alert": alert, "coverage": rows, "hazard_coverage": hazards}


def board_context(
    db: Database, session: Session, chosen: int | None, parts: tuple[str, ...]
) -> dict[str, Any]:
    """What the board's sections show; only the `parts` asked for are read."""
    context: dict[str, Any] = {}
    alerts = active_alerts(session)
    context["alerts"] = alerts
    covered = None
    if "coverage" in parts and len(parts) > 1:  # the biggest read: alongside the others
        covered = alongside(db, lambda other: coverage_context(other, alerts, chosen))
    elif "coverage" in parts:
        context.update(coverage_context(session, alerts, chosen))
    if "alerts" in parts:
        context["funnels"] = funnels(session, [a.id for a in alerts])
    if "help" in parts:
        context["help_total"], context["help_items"] = board.help_queue(session)
    if "approvals" in parts:
        context["approvals"] = board.approvals(session)
    if "speakers" in parts:
        context["speakers_total"], context["speakers"] = board.speaker_tasks(session)
    if "shift" in parts:
        context.update(shift_context(session))
    if covered is not None:
        context.update(covered())
    return context


@router.get("/console", response_class=HTMLResponse)
def dashboard(request: Request, alert: Id | None = None) -> HTMLResponse:
    user = console_user(request)
    with db_of(request).read() as session:
        context = board_context(db_of(request), session, alert, FRAGMENTS)
    return page(
        request,
        "console_dashboard.html",
        user,
        "dashboard",
        may_approve=board.may_approve,
        **context,
    )


@router.get("/console/fragments/{name}", response_class=HTMLResponse)
def fragment(request: Request, name: str, alert: Id | None = None) -> HTMLResponse:
    """One section of the board, re-read when the event stream says it changed."""
    user = console_user(request)
    if name not in FRAGMENTS:
        return missing(request, name)
    with db_of(request).read() as session:
        context = board_context(db_of(request), session, alert, (name,))
    return page(
        request, f"console_part_{name}.html", user, "", may_approve=board.may_approve, **context
    )


@router.get("/console/alerts/{alert_id}/coverage/{zone_id}", response_class=HTMLResponse)
def grid_coverage(request: Request, alert_id: Id, zone_id: Id) -> HTMLResponse:
    """The grids of one village (or township) for one alert, least covered first."""
    user = console_user(request)
    with db_of(request).read() as session:
        zone = session.get(Zone, zone_id)
        if zone is None:
            return missing(request, f"zone {zone_id}")
        rows = coverage.grid_rows(session, alert_id, zone)
    return page(
        request, "console_part_grids.html", user, "", rows=rows, parent=zone, alert_id=alert_id
    )
