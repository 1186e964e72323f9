"""The duty shift page (值班交接): who is on duty, the open items, the handover and the roster."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.auth.models import User
from broadcaster.db.base import utcnow
from broadcaster.registry import roster
from broadcaster.reports.open_items import open_counts, open_items
from broadcaster.web.console.common import console_user, db_of, page

router = APIRouter()
AHEAD = dt.timedelta(days=7)


def shift_context(session: Session) -> dict[str, Any]:
    """The dashboard's shift card: who is on duty, handovers waiting, open items counted."""
    now = utcnow()
    return {
        "on_duty": roster.on_duty(session, now),
        "next_turns": roster.next_turns(session, now, within=dt.timedelta(hours=12))[:2],
        "pending": roster.handovers(session, pending=True, limit=5),
        "open_counts": open_counts(session),
    }


def may_take(row: roster.HandoverRow, user_id: int) -> bool:
    """Whether this user may acknowledge the handover (as the API decides)."""
    h = row.handover
    if h.acknowledged_at is not None or h.from_user_id == user_id:
        return False
    return h.to_user_id is None or h.to_user_id == user_id


@router.get("/console/duty", response_class=HTMLResponse)
def duty_page(request: Request) -> HTMLResponse:
    user = console_user(request)
    now = utcnow()
    with db_of(request).read() as session:
        context = shift_context(session)
        context.update(
            open=open_items(session),
            history=roster.handovers(session, limit=20),
            roster_rows=roster.roster(
                session, since=now - dt.timedelta(days=1), until=now + AHEAD, limit=200
            ),
            officers=list(
                session.scalars(
                    select(User)
                    .where(User.role.in_(roster.ON_DUTY_ROLES), User.active.is_(True))
                    .order_by(User.username)
                )
            ),
        )
    return page(request, "console_duty.html", user, "duty", may_take=may_take, now=now, **context)
