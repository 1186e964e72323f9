"""The audit trail of an alert or a user, and recent sign-ins: JSON, CSV or XLSX (zh headers)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from openpyxl import Workbook
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from broadcaster.api.deps import allow, read_session
from broadcaster.auth.models import AuditEvent, Role, User
from broadcaster.errors import NotFound
from broadcaster.reports.export import local_time, safe_cell

router = APIRouter(prefix="/audit", tags=["audit"])
Format = Literal["json", "csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_EXPORT = 100_000
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
)


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int | None
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    source_ip: str | None
    detail: dict[str, Any]
    prev_hash: str | None
    hash: str | None


def _alert_rows(session: Session, alert_id: int) -> ColumnElement[bool]:
    """Events on the alert itself, and events on its parts that name it (detail.alert_id)."""
    named = AuditEvent.detail["alert_id"]
    in_detail = (
        named.as_string() == str(alert_id)
        if session.get_bind().dialect.name == "postgresql"
        else named.as_integer() == alert_id
    )
    own = (AuditEvent.object_type == "alert") & (AuditEvent.object_id == str(alert_id))
    return or_(own, in_detail)


def _user_rows(user: User) -> ColumnElement[bool]:
    """What the user did (by session or any of their keys), tried as them, or did to them."""
    return or_(
        AuditEvent.actor.in_((f"user:{user.username}", f"login:{user.username}")),
        AuditEvent.actor.startswith(f"user:{user.username}/key:", autoescape=True),
        (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id)),
    )


def _answer(
    session: Session, query: Select[AuditEvent], fmt: Format, name: str
) -> Response | list[AuditEvent]:
    rows = list(session.scalars(query))
    if fmt == "json":
        return rows
    table = [_cells(row) for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens it as UTF-8
        writer = csv.writer(buffer)
        writer.writerow([f"{zh} {key}" for key, zh in HEADER])
        writer.writerows(table)
        body, media = buffer.getvalue().encode(), "text/csv; charset=utf-8"
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("审计日志")
        sheet.append([f"{zh} {key}" for key, zh in HEADER])
        for line in table:
            sheet.append(line)
        out = io.BytesIO()
        book.save(out)
        body, media = out.getvalue(), XLSX
    disposition = f'attachment; filename="audit-{name}.{fmt}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


def _cells(row: AuditEvent) -> list[str]:
    detail = json.dumps(row.detail, ensure_ascii=False, sort_keys=True)
    values = [
        str(row.seq or ""),
        local_time(row.at),
        row.actor,
        row.action,
        row.object_type,
        row.object_id,
        row.source_ip or "",
        detail,
        row.hash or "",
    ]
    return [safe_cell(v) for v in values]


def _page(where: ColumnElement[bool], limit: int, offset: int) -> Select[AuditEvent]:
    return select(AuditEvent).where(where).order_by(AuditEvent.id).limit(limit).offset(offset)


LIMIT = Query(1000, ge=1, le=MAX_EXPORT)
MAX_ID = 2**31 - 1  # the databases' integer ids
OFFSET = Query(0, ge=0, le=10**9)


@router.get("/alerts/{alert_id}", response_model=list[AuditOut])
def alert_trail(
    alert_id: int = Path(ge=1, le=MAX_ID),
    format: Format = "json",
    limit: int = LIMIT,
    offset: int = OFFSET,
    session: Session = Depends(read_session),
    _: object = allow(Role.admin, Role.officer),
) -> Response | list[AuditEvent]:
    """Everything done to one alert and its parts, oldest first (`format=csv|xlsx` exports)."""
    query = _page(_alert_rows(session, alert_id), limit, offset)
    return _answer(session, query, format, f"alert-{alert_id}")


@router.get("/users/{user_id}", response_model=list[AuditOut])
def user_trail(
    user_id: int = Path(ge=1, le=MAX_ID),
    format: Format = "json",
    limit: int = LIMIT,
    offset: int = OFFSET,
    session: Session = Depends(read_session),
    _: object = allow(Role.admin),
) -> Response | list[AuditEvent]:
    """Everything one user did, or was tried in their name (sign-ins), or was done to them."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return _answer(session, _page(_user_rows(user), limit, offset), format, f"user-{user_id}")


@router.get("/logins", response_model=list[AuditOut])
def logins(
    format: Format = "json",
    failed_only: bool = False,
    limit: int = Query(200, ge=1, le=MAX_EXPORT),
    session: Session = Depends(read_session),
    _: object = allow(Role.admin),
) -> Response | list[AuditEvent]:
    """Recent console sign-ins, newest first: successes, failures, throttled tries, logouts."""
    actions = (
        ("login.failed", "login.throttled")
        if failed_only
        else (
            "login.ok",
            "login.failed",
            "login.throttled",
            "logout",
        )
    )
    query = (
        select(AuditEvent)
        .where(AuditEvent.action.in_(actions))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return _answer(session, query, format, "logins")
