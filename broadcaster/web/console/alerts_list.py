"""The alert record (/console/alerts): every alert, newest first, paged, by state."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from broadcaster.alerts.models import Alert, AlertState
from broadcaster.web.console.common import PAGE_SIZE, console_user, db_of, page
from broadcaster.web.console.live import LIVE, funnels

router = APIRouter()


@router.get("/console/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    state: str = "",
    page_no: int = Query(default=1, alias="page", ge=1),
) -> HTMLResponse:
    user = console_user(request)
    chosen = AlertState(state) if state in AlertState.__members__ else None
    stmt = select(Alert)
    if chosen is not None:
        stmt = stmt.where(Alert.state == chosen)
    with db_of(request).read() as session:
        total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        pages = max(1, -(-total // PAGE_SIZE))
        page_no = min(page_no, pages)
        alerts = list(
            session.scalars(
                stmt.order_by(Alert.id.desc()).offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)
            )
        )
        live = funnels(session, [a.id for a in alerts if a.state in LIVE])
    return page(
        request,
        "console_alerts.html",
        user,
        "alerts",
        alerts=alerts,
        live=live,
        total=total,
        pages=pages,
        page_number=page_no,
        state=chosen.value if chosen else "",
        state_choices=[s.value for s in AlertState],
    )
