"""The duty roster (值班表): shifts added and cancelled (audited), who is on duty at a moment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from broadcaster.auth.audit import Actor, record
from broadcaster.auth.models import Role, User
from broadcaster.errors import Conflict, InvalidState, NotFound, ValidationFailed
from broadcaster.registry.duty_models import DutyPost, DutyShift, Handover

MAX_SHIFT = dt.timedelta(hours=72)
ON_DUTY_ROLES = (Role.officer, Role.admin)
Turn = tuple[DutyShift, User]


def duty_user(session: Session, username: str, *, field: str) -> User:
    """An active officer or administrator by login name, or a ValidationFailed naming `field`."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise ValidationFailed(f"未知账号 / no such login: {username}", field=field)
    if user.role not in ON_DUTY_ROLES:
        raise ValidationFailed(
            f"{username} 不是值班员或管理员 / {username} is not a duty officer", field=field
        )
    return user


def add_shift(
    session: Session,
    *,
    username: str,
    post: DutyPost,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    note: str,
    actor: Actor,
) -> DutyShift:
    """Put someone on the roster; a shift of theirs that overlaps is a 409, nothing written."""
    if ends_at <= starts_at:
        raise ValidationFailed("结束须晚于开始 / ends_at must be after starts_at", field="ends_at")
    if ends_at - starts_at > MAX_SHIFT:
        raise ValidationFailed(
            "一个班次不超过72小时 / a shift is 72 hours at most", field="ends_at"
        )
    user = duty_user(session, username, field="username")
    overlap = session.scalar(
        select(DutyShift.id).where(
            DutyShift.user_id == user.id,
            DutyShift.cancelled_at.is_(None),
            DutyShift.starts_at < ends_at,
            DutyShift.ends_at > starts_at,
        )
    )
    if overlap is not None:
        raise Conflict(
            f"{username} 在此时段已有班次 #{overlap} / overlaps shift {overlap}", field="starts_at"
        )
    shift = DutyShift(
        user_id=user.id,
        post=post,
        starts_at=starts_at,
        ends_at=ends_at,
        note=note,
        created_by=actor.name,
    )
    session.add(shift)
    session.flush()
    record(session, actor=actor, action="shift.create", object_type="shift", object_id=shift.id,
           user=username, post=post.value, starts_at=starts_at.isoformat(),
           ends_at=ends_at.isoformat())  # fmt: skip
    return shift


def cancel_shift(session: Session, *, shift_id: int, actor: Actor, now: dt.datetime) -> DutyShift:
    shift = session.get(DutyShift, shift_id, with_for_update=True)
    if shift is None:
        raise NotFound(f"班次不存在 / no shift {shift_id}")
    if shift.cancelled_at is not None:
        raise InvalidState("班次已取消 / the shift is already cancelled")
    shift.cancelled_at, shift.cancelled_by = now, actor.name
    record(session, actor=actor, action="shift.cancel", object_type="shift", object_id=shift.id)
    return shift


def roster(session: Session, *, since: dt.datetime, until: dt.datetime, limit: int) -> list[Turn]:
    """Shifts overlapping [since, until), in time order, cancelled ones included."""
    rows = session.execute(
        select(DutyShift, User)
        .join(User, User.id == DutyShift.user_id)
        .where(DutyShift.starts_at < until, DutyShift.ends_at > since)
        .order_by(DutyShift.starts_at, DutyShift.post, DutyShift.id)
        .limit(limit)
    )
    return [(s, u) for s, u in rows]


def on_duty(session: Session, now: dt.datetime) -> list[Turn]:
    """Who is on duty now: the leader first."""
    rows = session.execute(
        select(DutyShift, User)
        .join(User, User.id == DutyShift.user_id)
        .where(
            DutyShift.cancelled_at.is_(None),
            DutyShift.starts_at <= now,
            DutyShift.ends_at > now,
        )
        .order_by(DutyShift.post, DutyShift.starts_at)
    )
    return [(s, u) for s, u in rows]


def next_turns(session: Session, now: dt.datetime, *, within: dt.timedelta) -> list[Turn]:
    """Shifts starting after now (within `within`), the soonest first."""
    rows = session.execute(
        select(DutyShift, User)
        .join(User, User.id == DutyShift.user_id)
        .where(
            DutyShift.cancelled_at.is_(None),
            DutyShift.starts_at > now,
            DutyShift.starts_at <= now + within,
        )
        .order_by(DutyShift.starts_at, DutyShift.post)
    )
    return [(s, u) for s, u in rows]


@dataclass(frozen=True)
class HandoverRow:
    """A handover with the people in it: who handed over, to whom, who acknowledged."""

    handover: Handover
    giver: User
    named: User | None
    taker: User | None


def handovers(
    session: Session,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    pending: bool = False,
    handover_id: int | None = None,
    limit: int = 100,
) -> list[HandoverRow]:
    """Handovers, newest first: of a time window, the ones not yet acknowledged, or one."""
    giver, named, taker = aliased(User), aliased(User), aliased(User)
    stmt = (
        select(Handover, giver, named, taker)
        .join(giver, giver.id == Handover.from_user_id)
        .outerjoin(named, named.id == Handover.to_user_id)
        .outerjoin(taker, taker.id == Handover.acknowledged_by)
    )
    if since is not None:
        stmt = stmt.where(Handover.created_at >= since)
    if until is not None:
        stmt = stmt.where(Handover.created_at < until)
    if pending:
        stmt = stmt.where(Handover.acknowledged_at.is_(None))
    if handover_id is not None:
        stmt = stmt.where(Handover.id == handover_id)
    rows = session.execute(stmt.order_by(Handover.id.desc()).limit(limit))
    return [HandoverRow(h, g, n, t) for h, g, n, t in rows]
