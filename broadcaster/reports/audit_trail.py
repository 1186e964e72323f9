"""Audit trails in Chinese: every action on an alert (and its parts) or by a user, as rows."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, String, cast, or_, select
from sqlalchemy.orm import Session

from broadcaster.auth.models import AuditEvent, User
from broadcaster.confirm.models import HelpRequest
from broadcaster.followup.models import VisitTask
from broadcaster.registry.logins import actor_names
from broadcaster.reports.export import local_time

ACTION_NAMES = {
    "alert.issue": "发布",
    "alert.approve": "批准",
    "alert.reject": "驳回",
    "alert.update": "更新",
    "alert.cancel": "取消",
    "alert.cancel_tasks": "关闭未完成任务",
    "alert.export": "导出",
    "alert.refused": "越权操作被拒绝",
    "household.confirm": "代录住户确认",
    "household.edit": "修改住户信息",
    "help.handle": "处理求助",
    "visit.start": "开始上门",
    "visit.outcome": "记录上门结果",
    "loudspeaker.played": "喇叭已播放",
    "relay.forwarded": "群消息已转发",
    "relay.escalated": "群转发超时升级",
    "registry.import": "导入户籍表",
    "group.create": "登记群",
    "group.update": "更新群",
    "shelter.create": "登记安置点",
    "shelter.update": "更新安置点",
    "worker.link_login": "关联工作人员账号",
    "user.create": "创建账号",
    "user.password": "修改密码",
    "api_key.create": "创建 API 密钥",
    "api_key.revoke": "吊销 API 密钥",
    "login.ok": "登录",
    "login.failed": "登录失败",
    "login.throttled": "登录被限制",
    "logout": "退出登录",
    "shift.create": "排班",
    "shift.cancel": "取消排班",
    "shift.handover": "交班",
    "shift.acknowledge": "接班确认",
    "demo.worker_logins": "演示账号",
}
OBJECT_NAMES = {
    "alert": "预警",
    "visit": "上门任务",
    "household": "住户",
    "help_request": "求助",
    "loudspeaker_task": "喇叭任务",
    "relay_task": "群转发任务",
    "group": "群",
    "shelter": "安置点",
    "user": "账号",
    "api_key": "API 密钥",
    "shift": "排班",
    "handover": "交接班",
}
# The columns of the first exports keep their places; the names in Chinese come after them.
HEADER = (
    ("seq", "序号"),
    ("at", "时间（北京时间）"),
    ("actor", "操作人"),
    ("action", "操作"),
    ("object_type", "对象类型"),
    ("object_id", "对象编号"),
    ("source_ip", "来源地址"),
    ("detail", "详情"),
    ("hash", "校验哈希"),
    ("actor_name", "姓名"),
    ("action_name", "操作说明"),
    ("object_name", "对象说明"),
)


def header() -> list[str]:
    return [f"{zh} {key}" for key, zh in HEADER]


def _part(
    kind: str, table: type[VisitTask] | type[HelpRequest], alert_id: int
) -> ColumnElement[bool]:
    """Events on one kind of the alert's parts, by their ids (audit object ids are text)."""
    ids = select(cast(table.id, String)).where(table.alert_id == alert_id)
    return (AuditEvent.object_type == kind) & AuditEvent.object_id.in_(ids)


def alert_events(session: Session, alert_id: int) -> ColumnElement[bool]:
    """Events on the alert itself, on its parts that name it (detail.alert_id), and on its
    visits and help requests (whose events name only themselves)."""
    named = AuditEvent.detail["alert_id"]
    in_detail = (
        named.as_string() == str(alert_id)
        if session.get_bind().dialect.name == "postgresql"
        else named.as_integer() == alert_id
    )
    own = (AuditEvent.object_type == "alert") & (AuditEvent.object_id == str(alert_id))
    parts = (_part("visit", VisitTask, alert_id), _part("help_request", HelpRequest, alert_id))
    return or_(own, in_detail, *parts)


def user_events(user: User) -> ColumnElement[bool]:
    """What the user did (by session or any of their keys), tried as them, or did to them."""
    return or_(
        AuditEvent.actor.in_((f"user:{user.username}", f"login:{user.username}")),
        AuditEvent.actor.startswith(f"user:{user.username}/key:", autoescape=True),
        (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id)),
    )


def page(where: ColumnElement[bool], limit: int, offset: int) -> Select[AuditEvent]:
    return select(AuditEvent).where(where).order_by(AuditEvent.id).limit(limit).offset(offset)


def names_of(session: Session, rows: Iterable[AuditEvent]) -> dict[str, str]:
    """The people behind the actors (user:wang → 王网格), where known."""
    return actor_names(session, {row.actor for row in rows})


def cells(row: AuditEvent, names: dict[str, str]) -> list[str]:
    detail = json.dumps(row.detail, ensure_ascii=False, sort_keys=True)
    return [
        str(row.seq or ""),
        local_time(row.at),
        row.actor,
        row.action,
        row.object_type,
        row.object_id,
        row.source_ip or "",
        detail,
        row.hash or "",
        names.get(row.actor, ""),
        ACTION_NAMES.get(row.action, row.action),
        OBJECT_NAMES.get(row.object_type, row.object_type),
    ]
