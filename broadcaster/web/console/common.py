"""Shared pieces of the console pages: who may look, formatting, labels, rendering."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from broadcaster.api.deps import client_ip
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.errors import BroadcasterError, NotFound
from broadcaster.reports.export import mask_phone
from broadcaster.settings import Settings
from broadcaster.web.auth import PageUser, check_csrf, page_user
from broadcaster.web.templating import render
from channels.base import Reach
from channels.registry import registered

ROLES = (Role.officer, Role.admin)
T = TypeVar("T")
# Independent aggregates of one page run side by side, each in its own reading session
# (PostgreSQL and SQLite in WAL mode both serve concurrent readers).
_READERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="console-read")
CST = dt.timezone(dt.timedelta(hours=8), "CST")  # Beijing time; China keeps no summer time
PAGE_SIZE = 50

LEVELS = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
HAZARDS = {
    "rain": "暴雨",
    "water_level": "水位",
    "flood": "洪水",
    "drought": "干旱",
    "geohazard": "地质灾害",
    "other": "其他",
}
ALERT_STATES = {
    "draft": "草稿",
    "pending_approval": "待审批",
    "sending": "发送中",
    "active": "进行中",
    "closed": "已结束",
    "cancelled": "已取消",
    "expired": "已过期",
}
RECIPIENT_STATES = {
    "pending": "待送达",
    "reached": "已送达未确认",
    "confirmed": "已确认",
    "needs_help": "求助",
    "unreachable": "无法送达",
    "visited": "已上门",
    "unconfirmed": "未确认（全部）",
}
DELIVERY_STATES = {  # of a delivery and of each attempt at it
    "queued": "排队中",
    "sending": "发送中",
    "sent": "已发出",
    "delivered": "已送达",
    "failed": "失败",
    "unknown": "结果未知",
    "cancelled": "已撤回",
    "superseded": "未送出，已重发",
}


def channel_names() -> dict[str, str]:
    """The installed channels' labels, in the order of the addresses they reach."""
    order = list(Reach)
    ranked = sorted(
        registered().items(), key=lambda kv: (order.index(kv[1].capabilities.addresses), kv[0])
    )
    return {name: cls.label or name for name, cls in ranked}


VIA = {
    "sms_reply": "短信回复",
    "keypress": "电话按键",
    "link": "点击链接",
    "visit": "上门核实",
    "operator": "值班员代录",
}
VISITS = {
    "open": "待上门",
    "in_progress": "上门中",
    "done": "已上门",
    "unable": "未能核实",
    "cancelled": "已取消",
}
ROLE_NAMES = {
    "admin": "管理员",
    "officer": "值班员",
    "feed": "自动数据源",
    "operator": "喇叭操作员",
    "field": "网格员",
}
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
VULNERABILITY = {
    "elderly_alone": "独居老人",
    "disabled": "残疾",
    "bedridden": "卧床",
    "child_alone": "留守儿童",
    "pregnant": "孕妇",
    "basement": "地下室",
}


class Format:
    """Formatting helpers handed to the templates as `fmt`."""

    @staticmethod
    def time(value: dt.datetime | None, seconds: bool = True) -> str:
        if value is None:
            return "—"
        local = value.astimezone(CST)
        today = utcnow().astimezone(CST).date()
        clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
        return clock if local.date() == today else local.strftime("%m-%d ") + clock

    @staticmethod
    def stamp(value: dt.datetime | None) -> str:
        return value.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S") if value else "—"

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
        fmt=Format,
        levels=LEVELS,
        hazards=HAZARDS,
        alert_states=ALERT_STATES,
        recipient_states=RECIPIENT_STATES,
        delivery_states=DELIVERY_STATES,
        channel_names=channel_names(),
        vulnerability_names=VULNERABILITY,
        role_names=ROLE_NAMES,
        via_names=VIA,
        visit_names=VISITS,
        duty_posts=DUTY_POSTS,
        open_kinds=OPEN_KINDS,
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
