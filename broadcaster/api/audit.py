"""The audit trail of an alert or a user, and recent sign-ins: JSON, CSV or XLSX (zh headers)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from broadcaster.api.deps import allow, read_session
from broadcaster.auth.models import AuditEvent, Role, User
from broadcaster.errors import NotFound
from broadcaster.reports import audit_trail as trail
from broadcaster.reports.tables import table_bytes

router = APIRouter(prefix="/audit", tags=["audit"])
Format = Literal["json", "csv", "xlsx"]
MAX_EXPORT = 100_000


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int | None
    at: dt.datetime
    actor: str
    actor_name: str | None = Field(default=None, description="The person, where known.")
    action: str
    action_name: str = Field(default="", description="The action in Chinese (操作).")
    object_type: str
    object_id: str
    source_ip: str | None
    detail: dict[str, Any]
    prev_hash: str | None
    hash: str | None


def _answer(
    session: Session, query: Select[AuditEvent], fmt: Format, name: str
) -> Response | list[AuditOut]:
    rows = list(session.scalars(query))
    names = trail.names_of(session, rows)
    if fmt == "json":
        return [
            AuditOut.model_validate(row).model_copy(
                update={
                    "actor_name": names.get(row.actor),
                    "action_name": trail.ACTION_NAMES.get(row.action, row.action),
                }
            )
            for row in rows
        ]
    table = [trail.cells(row, names) for row in rows]
    body, media = table_bytes(fmt, "审计日志", trail.header(), table)
    disposition = f'attachment; filename="audit-{name}.{fmt}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


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
) -> Response | list[AuditOut]:
    """Everything done to one alert and its parts, oldest first (`format=csv|xlsx` exports)."""
    query = trail.page(trail.alert_events(session, alert_id), limit, offset)
    return _answer(session, query, format, f"alert-{alert_id}")


@router.get("/users/{user_id}", response_model=list[AuditOut])
def user_trail(
    user_id: int = Path(ge=1, le=MAX_ID),
    format: Format = "json",
    limit: int = LIMIT,
    offset: int = OFFSET,
    session: Session = Depends(read_session),
    _: object = allow(Role.admin),
) -> Response | list[AuditOut]:
    """Everything one user did, or was tried in their name (sign-ins), or was done to them."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    query = trail.page(trail.user_events(user), limit, offset)
    return _answer(session, query, format, f"user-{user_id}")


@router.get("/logins", response_model=list[AuditOut])
def logins(
    format: Format = "json",
    failed_only: bool = False,
    limit: int = Query(200, ge=1, le=MAX_EXPORT),
    session: Session = Depends(read_session),
    _: object = allow(Role.admin),
) -> Response | list[AuditOut]:
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
