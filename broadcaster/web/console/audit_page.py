"""The audit trail in the console (审计日志): everything done to an alert, or by a user."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from broadcaster.alerts.models import Alert
from broadcaster.auth.models import Role, User
from broadcaster.db.ids import Id
from broadcaster.errors import Forbidden
from broadcaster.reports import audit_trail as trail
from broadcaster.web.console.common import console_user, db_of, message, missing, page

router = APIRouter()
SHOWN = 1000


@router.get("/console/audit", response_class=HTMLResponse)
def audit_page(request: Request, alert: Id | None = None, user: Id | None = None) -> HTMLResponse:
    """An alert's trail (officers, admins) or a user's (admins), oldest first, with exports."""
    viewer = console_user(request)
    if user is not None and viewer.role is not Role.admin:
        return message(request, Forbidden("只有管理员可查看账号的操作记录 / admins only"))
    with db_of(request).read() as session:
        subject: Alert | User | None = None
        rows = []
        if alert is not None:
            subject = session.get(Alert, alert)
            if subject is None:
                return missing(request, f"alert {alert}")
            rows = list(session.scalars(trail.page(trail.alert_events(session, alert), SHOWN, 0)))
        elif user is not None:
            subject = session.get(User, user)
            if subject is None:
                return missing(request, f"user {user}")
            rows = list(session.scalars(trail.page(trail.user_events(subject), SHOWN, 0)))
        names = trail.names_of(session, rows)
        users = (
            list(session.scalars(select(User).order_by(User.username)))
            if viewer.role is Role.admin
            else []
        )
    export = f"/api/v1/audit/alerts/{alert}" if alert else f"/api/v1/audit/users/{user}"
    lines = [trail.cells(row, names) for row in rows]
    return page(request, "console_audit.html", viewer, "alerts", subject=subject, lines=lines,
                export=export, users=users, shown=SHOWN, alert_id=alert)  # fmt: skip
