"""Shared pieces of the console pages: who may look, formatting, labels, rendering."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from broadcaster.alerts.clock import DEFAULT_ZONE
from broadcaster.alerts.models import SENDING_STATES, Alert
from broadcaster.api.deps import client_ip
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.errors import BroadcasterError, NotFound
from broadcaster.reports import labels
from broadcaster.reports.labels import (
    ALERT_STATES,
    ANSWERS,
    BREAKER_STATES,
    CONFIRMED_BY,
    DELIVERY_STATES,
    GROUP_KINDS,
    HAZARD_TYPES,
    HAZARDS,
    LEVELS,
    PHONE_KINDS,
    RECIPIENT_STATES,
    RELAY_STATES,
    REVISION_KINDS,
    ROLE_NAMES,
    SOURCES,
    TASK_STATES,
    VIA,
    VISIT_OUTCOMES,
    VISITS,
    VULNERABILITY,
    WAITING_REASONS,
    WORKER_ROLES,
    ZONE_KINDS,
    channel_names,
    mask_phone,
)
from broadcaster.settings import Settings
from broadcaster.web.auth import PageUser, check_csrf, page_user
from broadcaster.web.templating import render

ROLES = (Role.officer, Role.admin)
__all__ = [  # the label tables are the console's (the i18n test reads them from here)
    "ALERT_STATES",
    "ANSWERS",
    "BREAKER_STATES",
    "CONFIRMED_BY",
    "DELIVERY_STATES",
    "GROUP_KINDS",
    "HAZARDS",
    "HAZARD_TYPES",
    "LEVELS",
    "PHONE_KINDS",
    "RECIPIENT_STATES",
    "RELAY_STATES",
    "REVISION_KINDS",
    "ROLE_NAMES",
    "SOURCES",
    "TASK_STATES",
    "VIA",
    "VISITS",
    "VISIT_OUTCOMES",
    "VULNERABILITY",
    "WAITING_REASONS",
    "WORKER_ROLES",
    "ZONE_KINDS",
    "channel_names",
]
T = TypeVar("T")
# Independent aggregates of one page run side by side, each in its own reading session
# (PostgreSQL and SQLite in WAL mode both serve concurrent readers).
_READERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="console-read")
PAGE_SIZE = 50

DUTY_POSTS = {"leader": "带班领导", "officer": "值班员"}
OPEN_KINDS = {
    "alerts_in_progress": "进行中的预警",
    "approvals_waiting": "待审批预警",
    "help_open": "待处理求助",
    "speakers_unplayed": "未播放的喇叭",
    "relay_escalated": "超时未转发的群",
    "visits_open": "待上门",
    "visits_flagged": "超时上门（已转交）",
}


class Format:
    """Formatting helpers handed to the templates as `fmt`: times in the district's zone."""

    def __init__(self, zone: dt.tzinfo | None = None) -> None:
        self.zone = zone or DEFAULT_ZONE

    def time(self, value: dt.datetime | None, seconds: bool = True) -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        today = utcnow().astimezone(self.zone).date()
        clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
        return clock if local.date() == today else local.strftime("%m-%d ") + clock

    def stamp(self, value: dt.datetime | None) -> str:
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S") if value else "—"

    @staticmethod
    def duration(seconds: float | None) -> str:
        if seconds is None:
            return "—"
        if seconds < 60:
            return f"{seconds:.1f} s"
        whole = round(seconds)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            return f"{hours}:{minutes:02d}:{secs:02d}"
        return f"{minutes}:{secs:02d}"

    @staticmethod
    def minutes_since(value: dt.datetime | None) -> int:
        return int((utcnow() - value).total_seconds() // 60) if value else 0

    @staticmethod
    def pct(part: int | float | None, whole: int | float | None) -> str:
        if not whole or part is None:
            return "—"
        return f"{100 * part / whole:.1f}%" if part != whole else "100%"

    @staticmethod
    def rate(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f}%"

    @staticmethod
    def number(value: int | None) -> str:
        return "—" if value is None else f"{value:,}"

    @staticmethod
    def actor(raw: str | None) -> str:
        """Who acted, without the raw prefix ("user:wang/key:7" → wang); the templates
        translate the words of it they know."""
        return labels.actor_name(raw)


def alert_state_name(alert: Alert) -> str:
    """The alert's state as people read it: a drill whose households are all final is done,
    no longer "in progress"."""
    if alert.is_drill and alert.completed_at is not None and alert.state in SENDING_STATES:
        return labels.DRILL_DONE
    return labels.ALERT_STATES.get(alert.state.value, alert.state.value)


def console_user(request: Request) -> PageUser:
    """The signed-in officer or administrator (else a redirect to /login, or a 403 page)."""
    return page_user(request, *ROLES)


def console_write(request: Request, token: str | None, *roles: Role) -> PageUser:
    """A form post: the session's CSRF token first, then the role."""
    check_csrf(request, token)
    return page_user(request, *(roles or ROLES))


def principal(user: PageUser, request: Request) -> Principal:
    return Principal(user.user_id, user.username, user.role, None, client_ip(request))


def alongside(db: Database, read: Callable[[Session], T]) -> Callable[[], T]:
    """Start `read` in its own session on a helper thread now; call the result to wait for it."""

    def run() -> T:
        with db.read() as session:
            return read(session)

    future = _READERS.submit(run)
    return future.result


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def page(
    request: Request, template: str, user: PageUser, section: str, **context: Any
) -> HTMLResponse:
    """A console page: the user, the navigation's current section, labels and formatting."""
    response = render(
        request,
        template,
        user=user,
        section=section,
        fmt=Format(settings_of(request).zone),
        time_zone=settings_of(request).time_zone,
        levels=LEVELS,
        hazards=HAZARDS,
        alert_states=ALERT_STATES,
        alert_state_name=alert_state_name,
        recipient_states=RECIPIENT_STATES,
        delivery_states=DELIVERY_STATES,
        waiting_reasons=WAITING_REASONS,
        breaker_states=BREAKER_STATES,
        channel_names=channel_names(),
        vulnerability_names=VULNERABILITY,
        role_names=ROLE_NAMES,
        worker_roles=WORKER_ROLES,
        phone_kinds=PHONE_KINDS,
        group_kinds=GROUP_KINDS,
        zone_kinds=ZONE_KINDS,
        hazard_types=HAZARD_TYPES,
        via_names=VIA,
        answer_names=ANSWERS,
        confirmed_by_names=CONFIRMED_BY,
        visit_names=VISITS,
        duty_posts=DUTY_POSTS,
        open_kinds=OPEN_KINDS,
        outcome_names=VISIT_OUTCOMES,
        task_states=TASK_STATES,
        relay_states=RELAY_STATES,
        revision_kinds=REVISION_KINDS,
        sources=SOURCES,
        sent_text=labels.sent_text,
        visit_text=labels.visit_text,
        mask=mask_phone,
        **context,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def fragment(request: Request, template: str, **context: Any) -> HTMLResponse:
    """A piece of a page, fetched by the page's script to replace one section."""
    return page(request, template, console_user(request), "", **context)


def message(request: Request, error: BroadcasterError) -> HTMLResponse:
    """A domain error as a page (the JSON API answers the same error as JSON)."""
    return render(
        request,
        "message.html",
        status_code=error.status_code,
        title="未能完成 / not done",
        text=error.message,
    )


def missing(request: Request, what: str) -> HTMLResponse:
    return message(request, NotFound(f"{what} 不存在 / {what} not found"))
