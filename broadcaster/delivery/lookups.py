"""The look-up schedule: which deliveries the reconciler asks their provider about, and when."""

# Unknowns (a request whose fate we never heard) are asked about once callbacks had their
# grace, at once if a dead worker's lease ran out. A provider's "never got it" is trusted
# (the delivery resent) only `delivery.resend_quiet_seconds` after a request for it could last
# have left; sooner, a request may still be on its way, so it is asked again (a second look-up)
# when that time has passed: with short waits, early look-ups resent messages that arrived
# after all (3 duplicates with 1 s waits; 4-15 a run with 5 s on a starved machine, where
# the simulator took longer than that to take requests in).
# Sent messages whose final callback never came are asked about `status_lookup_after_seconds`
# after sending, then seldom. A webhook process that (re)starts marks a callback gap: final
# callbacks may have been lost while it was away, so everything sent before it and never
# looked up is asked about a grace after the restart instead of waiting its turn. While the
# callbacks run behind the sending (a big fan-out: the provider's queue of callbacks), a sent
# message waits at least CALLBACK_LAG_FACTOR times that lag: its callback is on its way, and
# a look-up would only add a request per message to the provider's load (a 30,000-household
# fan-out looked up about a third of its messages 20 s after sending).

from __future__ import annotations

import datetime as dt

import redis
from sqlalchemy import ScalarSelect, and_, or_, select

from broadcaster.alerts.models import Alert, AlertStatus
from broadcaster.delivery.attempts import LEASE_EXPIRED
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.delivery.runtime import Runtime
from broadcaster.settings import Settings
from broadcaster.ticks_due import schedule_tick

S = DeliveryState
LOOKUP_PAGE = 1000
EXPIRED = LEASE_EXPIRED
RESEND_QUIET_SECONDS = 15.0  # the setting's default
RECONCILE = "reconcile"  # the periodic tick of broadcaster.jobs that runs the reconciler
CALLBACK_LAG_FACTOR = 1.5
CALLBACK_LAG_KEPT_SECONDS = 30  # no final callback for this long: the lag is forgotten

Due = tuple[Delivery, AlertStatus, str | None]  # a delivery, its alert's status, its carrier


def grace(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.delivery.unknown_grace_seconds)


def quiet_for(
    delivery: Delivery, now: dt.datetime, lease_seconds: float, quiet: float = RESEND_QUIET_SECONDS
) -> float:
    """Seconds until the provider's "never got it" about this unknown may be trusted (0 or
    less: now). A request could last have left when its unknown answer was recorded
    (`sent_at`), or, for a lease that ran out, when its worker last renewed it: heartbeats
    renew every third of the lease, so two thirds of it before it ran out (`sent_at` then)."""
    since = (now - (delivery.sent_at or now)).total_seconds()
    if delivery.error_code == EXPIRED:
        since += lease_seconds * 2 / 3
    return quiet - since


def tick_after(connection: redis.Redis, settings: Settings, why: str, at_least: float = 0) -> None:
    """A reconciler tick a grace from now (or `at_least` seconds), instead of waiting for the
    next periodic one; every process's ticker fires it when due (broadcaster.ticks_due). A
    delivery looked up now is due again a grace later."""
    wait = max(grace(settings).total_seconds(), max(0.5, at_least + 0.1))
    schedule_tick(connection, settings, RECONCILE, wait, why)


def _gap_key(settings: Settings) -> str:
    return f"{settings.queue_prefix}:callback_gap"


def mark_callback_gap(connection: redis.Redis, settings: Settings, at: dt.datetime) -> None:
    """A webhook process starts at `at`: what was sent before and never looked up is due a
    grace later (and a tick comes then). Kept until the ordinary schedule covers it."""
    keep = settings.delivery.status_lookup_after_seconds + 2 * grace(settings).total_seconds()
    connection.set(_gap_key(settings), at.timestamp(), ex=max(1, round(keep)))
    tick_after(connection, settings, "callbacks may have been lost")


def _lag_key(settings: Settings) -> str:
    return f"{settings.queue_prefix}:callback_lag"


def note_callback_lag(connection: redis.Redis, settings: Settings, seconds: float) -> None:
    """Final callbacks just applied came this long after their message was sent (the
    oldest of a batch): how far the provider's callbacks run behind the sending."""
    connection.set(_lag_key(settings), round(seconds, 3), ex=CALLBACK_LAG_KEPT_SECONDS)


def callback_lag(rt: Runtime) -> float:
    """The callbacks' latest lag in seconds (0: none noted lately, or Redis away)."""
    if rt.redis is None:
        return 0.0
    try:
        raw = rt.redis.get(_lag_key(rt.settings))
    except redis.RedisError:
        return 0.0
    return float(raw) if raw is not None else 0.0


def callback_gap(rt: Runtime, now: dt.datetime) -> dt.datetime | None:
    """The latest callback gap whose grace has passed, if any (Redis away: none)."""
    if rt.redis is None:
        return None
    try:
        raw = rt.redis.get(_gap_key(rt.settings))
    except redis.RedisError:
        return None
    if raw is None:
        return None
    at = dt.datetime.fromtimestamp(float(raw), dt.UTC)
    return at if at + grace(rt.settings) <= now else None


def due_lookups(rt: Runtime, now: dt.datetime, after: int) -> list[Due]:
    """The next page of deliveries (ids above `after`) due for a look-up now."""
    settings = rt.settings.delivery
    unknown_before = now - grace(rt.settings)
    stale_after = max(settings.status_lookup_after_seconds, CALLBACK_LAG_FACTOR * callback_lag(rt))
    stale_before = now - dt.timedelta(seconds=stale_after)
    gap = callback_gap(rt, now)
    if gap is not None:
        stale_before = max(stale_before, gap)
    recheck_before = now - dt.timedelta(seconds=settings.status_recheck_after_seconds)
    with rt.db.read() as session:
        rows = session.execute(
            select(Delivery, Alert.status, _carrier())
            .join(Alert, Alert.id == Delivery.alert_id)
            .where(
                Delivery.id > after,
                or_(
                    and_(
                        Delivery.state == S.unknown,
                        # a dead worker's lease ran out after its last heartbeat: callbacks
                        # had as long as the lease to come, so it is looked up at once
                        or_(Delivery.sent_at < unknown_before, Delivery.error_code == EXPIRED),
                        or_(Delivery.checked_at.is_(None), Delivery.checked_at < unknown_before),
                    ),
                    and_(
                        Delivery.state == S.sent,
                        Delivery.provider_id.is_not(None),
                        or_(  # once soon after sending, then seldom: some never get final
                            and_(Delivery.checked_at.is_(None), Delivery.sent_at < stale_before),
                            Delivery.checked_at < recheck_before,
                        ),
                    ),
                ),
            )
            .order_by(Delivery.id)
            .limit(LOOKUP_PAGE)
        ).all()
        session.expunge_all()
    return [(delivery, status, carrier) for delivery, status, carrier in rows]


def _carrier() -> ScalarSelect[str | None]:
    """Who carried a delivery's latest attempt: where its fate must be asked."""
    return (
        select(DeliveryAttempt.provider)
        .where(DeliveryAttempt.delivery_id == Delivery.id)
        .order_by(DeliveryAttempt.number.desc())
        .limit(1)
        .scalar_subquery()
    )
