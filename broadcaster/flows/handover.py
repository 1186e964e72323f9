"""Shift handover (交接班): the note with the open items attached, then the acknowledgement."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor, record
from broadcaster.auth.models import User
from broadcaster.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from broadcaster.registry.duty_models import DutyShift, Handover
from broadcaster.registry.roster import duty_user, next_turns, on_duty
from broadcaster.reports.export import local_time
from broadcaster.reports.open_items import open_counts, open_items

LOOK_AHEAD = dt.timedelta(hours=12)  # the next shift on the roster takes over
NOTE_IN_AUDIT = 500


def _incoming(session: Session, giver: User, now: dt.datetime) -> User | None:
    """Whoever the roster puts on next (else someone already on duty), not the giver."""
    for _shift, user in [*next_turns(session, now, within=LOOK_AHEAD), *on_duty(session, now)]:
        if user.id != giver.id and user.active:
            return user
    return None


def _own_shift(session: Session, giver: User, now: dt.datetime) -> int | None:
    """The giver's shift now, or the one that ended last within the look-ahead."""
    return session.scalar(
        select(DutyShift.id)
        .where(
            DutyShift.user_id == giver.id,
            DutyShift.cancelled_at.is_(None),
            DutyShift.starts_at <= now,
            DutyShift.ends_at > now - LOOK_AHEAD,
        )
        .order_by(DutyShift.ends_at.desc())
        .limit(1)
    )


def hand_over(
    session: Session,
    *,
    giver_id: int,
    to: str | None,
    note: str,
    actor: Actor,
    now: dt.datetime,
) -> Handover:
    """Write the handover: the note, the incoming officer (named, else from the roster), and a
    snapshot of every open item at this moment."""
    giver = session.get_one(User, giver_id)
    taker: User | None
    if to is not None:
        taker = duty_user(session, to, field="to")
        if taker.id == giver.id:
            raise ValidationFailed("不能交班给自己 / cannot hand over to yourself", field="to")
    else:
        taker = _incoming(session, giver, now)
    found = open_items(session)
    handover = Handover(
        from_user_id=giver.id,
        to_user_id=taker.id if taker else None,
        shift_id=_own_shift(session, giver, now),
        note=note,
        items=found.as_dict(),
        created_at=now,
    )
    session.add(handover)
    session.flush()
    record(session, actor=actor, action="shift.handover", object_type="handover",
           object_id=handover.id, to=taker.username if taker else None, counts=found.counts,
           note=note[:NOTE_IN_AUDIT])  # fmt: skip
    return handover


def acknowledge(
    session: Session,
    *,
    handover_id: int,
    taker_id: int,
    note: str,
    actor: Actor,
    now: dt.datetime,
) -> Handover:
    """The incoming officer takes over: recorded with what is open now; once only, and never
    by the officer who handed over (nor by anyone else when the handover names someone)."""
    handover = session.get(Handover, handover_id, with_for_update=True)
    if handover is None:
        raise NotFound(f"交接记录不存在 / no handover {handover_id}")
    if handover.acknowledged_at is not None:
        raise InvalidState(
            f"已于 {local_time(handover.acknowledged_at)} 接班确认 / already acknowledged"
        )
    if taker_id == handover.from_user_id:
        raise Forbidden("交班人不能自己接班 / the officer handing over cannot acknowledge it")
    if handover.to_user_id is not None and handover.to_user_id != taker_id:
        named = session.get_one(User, handover.to_user_id)
        raise Forbidden(
            f"此交班由 {named.display_name or named.username} 接班 / this handover is for "
            f"{named.username}"
        )
    counts = open_counts(session)
    handover.acknowledged_at, handover.acknowledged_by = now, taker_id
    handover.ack_note, handover.ack_counts = note, counts
    giver = session.get_one(User, handover.from_user_id)
    record(session, actor=actor, action="shift.acknowledge", object_type="handover",
           object_id=handover.id, from_user=giver.username, counts=counts,
           note=note[:NOTE_IN_AUDIT])  # fmt: skip
    return handover
