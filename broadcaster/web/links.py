"""Personal confirmation pages: GET shows the alert, only POST confirms (link scanners safe)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from broadcaster.alerts.models import Alert, AlertState, Level, Recipient
from broadcaster.alerts.tokens import read_token
from broadcaster.api.deps import client_ip, get_db, get_settings_dep
from broadcaster.auth.audit import Actor
from broadcaster.confirm.models import Answer, Confirmation, ConfirmVia
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.dispatch import try_enqueue_sends
from broadcaster.flows.confirming import recipient_for, record_confirmation
from broadcaster.settings import Settings
from broadcaster.web.templating import render

router = APIRouter(tags=["confirmation pages"], include_in_schema=False)
ENDED = (AlertState.closed, AlertState.cancelled, AlertState.expired)
ANSWER_NAMES = {"safe": "收到 · 平安", "evacuated": "已转移", "needs_help": "需要帮助"}


class LinkProblem(Exception):
    """A link that cannot be used; shown as a clear page, never a 500."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(title)
        self.status, self.title, self.text = status, title, text


@dataclass(frozen=True)
class Target:
    alert: Alert
    recipient: Recipient
    person_id: int
    last_answer: str | None


INVALID = LinkProblem(
    404, "链接无效 / invalid link", "请核对短信中的链接，或直接回复短信 1（收到）或 2（求助）。"
)


def resolve(db: Database, settings: Settings, token: str, now: dt.datetime) -> Target:
    """The alert and household behind a token, or a LinkProblem."""
    ids = read_token(settings.secret_key.get_secret_value().encode(), token)
    if ids is None:
        raise INVALID
    alert_id, person_id = ids
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        recipient = recipient_for(session, alert_id=alert_id, person_id=person_id)
        if alert is None or recipient is None:
            raise INVALID
        ended = alert.closed_at if alert.state in ENDED else None
        grace = dt.timedelta(hours=settings.confirm_grace_hours)
        if ended is not None and now > ended + grace:
            raise LinkProblem(410, "链接已过期 / link expired", "这条预警已经结束。")
        last = session.scalar(  # in the household's current round: an update asks again
            select(Confirmation.answer)
            .where(
                Confirmation.recipient_id == recipient.id,
                Confirmation.round == recipient.round,
            )
            .order_by(Confirmation.id.desc())
            .limit(1)
        )
        session.expunge_all()
    return Target(alert, recipient, person_id, last.value if last else None)


def problem_page(request: Request, problem: LinkProblem) -> HTMLResponse:
    return render(
        request, "message.html", status_code=problem.status, title=problem.title, text=problem.text
    )


@router.get("/c/{token}", response_class=HTMLResponse)
async def show(
    request: Request,
    token: str,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> HTMLResponse:
    """The alert with big answer buttons. Never changes anything."""
    try:
        target = await run_in_threadpool(resolve, db, settings, token, utcnow())
    except LinkProblem as problem:
        return problem_page(request, problem)
    return render(
        request,
        "confirm.html",
        alert=target.alert,
        recorded=target.last_answer,
        answer_names=ANSWER_NAMES,
    )


@router.post("/c/{token}", response_class=HTMLResponse)
async def answer(
    request: Request,
    token: str,
    answer: str = Form(default=""),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
) -> HTMLResponse:
    """Record the household's answer."""
    if answer not in Answer.__members__:
        return render(
            request,
            "message.html",
            status_code=422,
            title="无法识别的回答 / unknown answer",
            text="请点击页面上的按钮。",
        )
    try:
        sends = await run_in_threadpool(
            _confirm, db, settings, token, Answer(answer), client_ip(request)
        )
    except LinkProblem as problem:
        return problem_page(request, problem)
    if sends is not None:  # help notices to the responsible worker and the lead, committed
        try_enqueue_sends(
            settings,
            request.app.state.redis,
            alert_id=sends[0],
            level=sends[1],
            channel_counts=sends[2],
        )
    return render(request, "confirm_done.html", answer=answer)


def _confirm(
    db: Database, settings: Settings, token: str, answer: Answer, ip: str | None
) -> tuple[int, Level, dict[str, int]] | None:
    """Record the answer; the help notices it queued (alert, level, per channel), if any."""
    now = utcnow()
    target = resolve(db, settings, token, now)
    with db.transaction() as session:
        recipient = session.get(Recipient, target.recipient.id, with_for_update=True)
        assert recipient is not None
        last = session.scalar(
            select(Confirmation)
            .where(
                Confirmation.recipient_id == recipient.id,
                Confirmation.round == recipient.round,
            )
            .order_by(Confirmation.id.desc())
            .limit(1)
        )
        if last is not None and (last.via, last.person_id, last.answer) == (
            ConfirmVia.link,
            target.person_id,
            answer,
        ):
            return None  # the same answer posted again (a double tap, a retry): kept once
        recorded = record_confirmation(
            session,
            recipient=recipient,
            via=ConfirmVia.link,
            answer=answer,
            actor=Actor(f"link:person:{target.person_id}", ip),
            now=now,
            person_id=target.person_id,
        )
    if not recorded.sends:
        return None
    return recipient.alert_id, target.alert.level, recorded.sends
