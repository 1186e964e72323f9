"""Queued work without a job gets one: after Redis lost its queues, and when a held-back
delivery's wait ends (a reconcile is asked for then)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import case, func, select

from broadcaster.alerts.models import NOTICE_STATES, SENDING_STATES, Alert
from broadcaster.delivery.dispatch import enqueue_sends, queue_for
from broadcaster.delivery.lookups import RECONCILE
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.runtime import Runtime
from broadcaster.queues import get_queue
from broadcaster.ticks_due import schedule_tick

S = DeliveryState
HELD_SLACK = 2.0  # a held-back delivery "came due since the last tick": with this to spare
HELD_AFTER = 0.05  # the tick for a held-back delivery comes this long after its wait ends


@dataclass
class Kicked:
    jobs: int = 0
    next_held: dt.datetime | None = None  # when the soonest held-back delivery comes due


def kick_queued(rt: Runtime, now: dt.datetime, *, alerts: Collection[int] | None = None) -> Kicked:
    """Queued deliveries that are due while their queue is empty have lost their job; so have
    held-back ones (a rate or per-number limit, a retry) whose time came since about the last
    tick, whatever their queue holds: their job ended when they were held. Those of `alerts`
    (just resent) get jobs whatever the queue holds (extra jobs end at once). Also says when
    the soonest held-back delivery comes due."""
    kicked = Kicked()
    if rt.redis is None:
        return kicked
    since = now - dt.timedelta(seconds=rt.settings.delivery.reconcile_every_seconds + HELD_SLACK)
    due = (Delivery.not_before.is_(None)) | (Delivery.not_before <= now)
    just_due = (Delivery.not_before > since) & (Delivery.not_before <= now)
    query = (
        select(
            Delivery.alert_id,
            Alert.level,
            Delivery.channel,
            func.sum(case((due, 1), else_=0)),
            func.sum(case((just_due, 1), else_=0)),
            func.min(case((Delivery.not_before > now, Delivery.not_before))),
        )
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(
            Delivery.state == S.queued,
            Alert.state.in_(SENDING_STATES)
            | (Alert.state.in_(NOTICE_STATES) & Delivery.notice.is_not(None)),
        )
        .group_by(Delivery.alert_id, Alert.level, Delivery.channel)
    )
    if alerts is not None:
        query = query.where(Delivery.alert_id.in_(list(alerts)))
    with rt.db.transaction() as session:
        rows = session.execute(query).all()
    held = [when for *_rest, when in rows if when is not None]
    kicked.next_held = min(held) if held else None
    rows = [row for row in rows if row[3]]
    # whether each queue was empty before this kick added to it
    empty = {name: get_queue(name, rt.redis, rt.settings).count == 0 for name in {
        queue_for(level) for _alert, level, *_rest in rows}}  # fmt: skip
    for alert_id, level, channel, count, came_due, _next in rows:
        if alerts is None and not empty[queue_for(level)] and not came_due:
            continue
        kicked.jobs += enqueue_sends(
            rt.settings, rt.redis, alert_id=alert_id, level=level, channel_counts={channel: count}
        )
    return kicked


def tick_when_held_ends(rt: Runtime, now: dt.datetime, when: dt.datetime | None) -> None:
    """A held-back delivery goes when its wait ends, not up to a tick later: a reconcile is
    asked for then (the same time each tick: one due time, however often it is asked)."""
    if when is None or rt.redis is None:
        return
    at = time.time() + (when - now).total_seconds() + HELD_AFTER
    schedule_tick(rt.redis, rt.settings, RECONCILE, at=round(at, 1), why="held-back sends due")
