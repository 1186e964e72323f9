"""The reconciler tick: expired leases become unknown, due queued work without a job gets one,
unknowns are looked up (again, before a resend, if asked too soon), finished alerts settle.
Safe to run anywhere, twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis
from sqlalchemy import exists, func, insert, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState
from broadcaster.alerts.tokens import make_token
from broadcaster.db.base import utcnow
from broadcaster.db.database import rowcount
from broadcaster.delivery import attempts
from broadcaster.delivery.lookups import (
    EXPIRED,
    LOOKUP_PAGE,
    RESEND_QUIET_SECONDS,
    Due,
    due_lookups,
    quiet_for,
    tick_after,
)
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.providers import provider_named
from broadcaster.delivery.requeue import kick_queued, tick_when_held_ends
from broadcaster.delivery.runtime import Runtime, runtime
from broadcaster.delivery.statuses import StatusReport, apply_reports
from channels.base import ChannelError, LookupItem, LookupResult

log = logging.getLogger(__name__)
S = DeliveryState
# Look-ups asked at once (two rounds of a provider's default 10 in flight): the tick's budget
# (30 s) is checked between them, so a provider timing out (5 s) overruns it by 10 s at most
# and the tick leaves the workers to the sends soon (during the 1 M run, ticks of minutes held
# both workers; ticks.stale_after no longer starts a second one beside a slow one).
LOOKUP_CHUNK = 20
OPEN = (S.queued, S.sending, S.unknown)


@dataclass
class TickReport:
    leases_expired: int = 0
    found_at_provider: int = 0
    asked_again: int = 0  # "never got it" too soon after a request could have left
    ask_in: float = 0.0  # seconds until the soonest of those may be trusted
    resent: int = 0
    still_unknown: int = 0
    jobs_enqueued: int = 0
    alerts_settled: int = 0


def tick() -> dict[str, Any]:
    """One reconciliation pass over the whole database. Queued work gets its jobs before the
    look-ups, so a lost queue is refilled at once; resends get theirs right after."""
    rt = runtime()
    now = utcnow()
    report = TickReport()
    with rt.db.transaction() as session:
        report.leases_expired = expire_leases(session, now)
    kicked = kick_queued(rt, now)
    report.jobs_enqueued = kicked.jobs
    resent = resolve_unknown(rt, now, report)
    if resent:
        report.jobs_enqueued += kick_queued(rt, now, alerts=resent).jobs
    if report.asked_again and rt.redis is not None:  # then, not at the next periodic tick
        tick_after(rt.redis, rt.settings, "look-ups again", report.ask_in)
    with contextlib.suppress(redis.RedisError):  # the periodic tick covers it
        tick_when_held_ends(rt, now, kicked.next_held)
    with rt.db.transaction() as session:
        report.alerts_settled = settle_alerts(session)
    if any(asdict(report).values()):
        log.info("reconciler: %s", report)
    return asdict(report)


def expire_leases(session: Session, now: dt.datetime) -> int:
    """Deliveries whose worker vanished mid-send: their fate (and their attempt's) is
    unknown, never assumed."""
    expired = session.scalars(
        update(Delivery)
        .where(Delivery.state == S.sending, Delivery.lease_expires_at < now)
        .values(
            state=S.unknown,
            error_code=EXPIRED,
            lease_token=None,
            lease_expires_at=None,
            sent_at=func.coalesce(Delivery.sent_at, now),
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    attempts.expire(session, expired, EXPIRED)
    return len(expired)


def resolve_unknown(rt: Runtime, now: dt.datetime, report: TickReport) -> set[int]:
    """Ask the provider about unknowns past the grace period (callbacks had their chance)
    and about sent messages whose final status callback never came: every such delivery,
    page by page, as fast as the provider's query limit (the channel's lookup concurrency)
    allows, within the tick's time budget. Returns the alerts with resends."""
    settings = rt.settings.delivery
    deadline = time.monotonic() + settings.lookup_budget_seconds
    after = 0
    resent: set[int] = set()
    while time.monotonic() < deadline:
        rows = due_lookups(rt, now, after)
        if not rows:
            break
        after = rows[-1][0].id
        resent |= _look_up(rt, rows, now, report, deadline)
        if len(rows) < LOOKUP_PAGE:
            break
    return resent


def _look_up(
    rt: Runtime, rows: list[Due], now: dt.datetime, report: TickReport, deadline: float
) -> set[int]:
    """Ask each delivery's own carrier (the provider of its latest attempt; the medium's
    current one for deliveries without attempts): after a failover, an unknown is resolved
    where it was sent, never by sending it elsewhere. A few at a time, until the `deadline`
    (a provider answering slowly must not hold the tick, and with it a worker, for minutes);
    the rest stay due for the next tick. Returns the alerts with resends."""
    resent: set[int] = set()
    by_carrier: dict[tuple[str, str, bool], list[Delivery]] = {}
    for delivery, status, carrier in sorted(rows, key=lambda row: (row[0].priority, row[0].id)):
        key = (delivery.channel, carrier or "", status.is_drill)
        by_carrier.setdefault(key, []).append(delivery)
    secret = rt.settings.secret_key.get_secret_value().encode()
    lease, quiet = rt.settings.delivery.lease_seconds, rt.settings.delivery.resend_quiet_seconds
    for (medium, carrier, drill), deliveries in by_carrier.items():
        items = [
            LookupItem(
                d.id,
                d.address,
                d.sent_at or now,
                make_token(secret, d.alert_id, d.person_id or 0),
                d.provider_id,
            )
            for d in deliveries
        ]
        try:
            provider = (
                provider_named(medium, carrier) if carrier else rt.carrier(medium, drill=drill)
            )
        except ChannelError as exc:
            log.warning("cannot look up %d deliveries: %s", len(deliveries), exc.message)
            continue
        channel = rt.channel(provider.name, drill=drill)
        by_id = {d.id: d for d in deliveries}
        for start in range(0, len(items), LOOKUP_CHUNK):
            if time.monotonic() >= deadline:
                return resent
            results = rt.run(channel.lookup(items[start : start + LOOKUP_CHUNK]))
            with rt.db.transaction() as session:
                resent |= _apply_lookups(session, by_id, results, now, report, lease, quiet)
    return resent


def _apply_lookups(
    session: Session,
    deliveries: dict[int, Delivery],
    results: list[LookupResult],
    now: dt.datetime,
    report: TickReport,
    lease_seconds: float,
    quiet: float = RESEND_QUIET_SECONDS,
) -> set[int]:
    checked = [r.key for r in results]
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(checked))
        .values(checked_at=now)
        .execution_options(synchronize_session=False)
    )
    found = [
        StatusReport(r.key, r.provider_id, S(r.state.value), r.error_code)
        for r in results
        if r.found and r.provider_id and r.state
    ]
    report.found_at_provider += apply_reports(session, found, now)
    resent: set[int] = set()
    for result in results:
        delivery = deliveries[result.key]
        if result.found is None:
            report.still_unknown += 1
        elif result.found is False and delivery.state is S.unknown:
            wait = quiet_for(delivery, now, lease_seconds, quiet)
            if wait > 0:  # it may still be on its way: asked again (a second look-up) later
                report.ask_in = min(report.ask_in, wait) if report.asked_again else wait
                report.asked_again += 1
            elif _resend(session, delivery, now):
                report.resent += 1
                resent.add(delivery.alert_id)
    return resent


def _resend(session: Session, delivery: Delivery, now: dt.datetime) -> int:
    """The provider never got it: this delivery and its attempt are superseded (history, not
    a failure) by a new delivery, queued; its lease makes the new attempt."""
    closed = session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.state == S.unknown)
        .values(state=S.superseded, error_code="not_sent", final_at=now)
        .execution_options(synchronize_session=False)
    )
    if not rowcount(closed):
        return 0
    attempts.supersede(session, delivery.id, now, "not_sent")
    session.execute(
        insert(Delivery).values(
            alert_id=delivery.alert_id,
            recipient_id=delivery.recipient_id,
            person_id=delivery.person_id,
            channel=delivery.channel,
            address=delivery.address,
            state=S.queued,
            priority=delivery.priority,
            attempts=0,
            resend_of=delivery.id,
            queued_at=now,
            revision=delivery.revision,
            notice=delivery.notice,
        )
    )
    return 1


def settle_alerts(session: Session) -> int:
    """A sending alert with nothing left in flight becomes active."""
    in_flight = exists().where(Delivery.alert_id == Alert.id, Delivery.state.in_(OPEN))
    result = session.execute(
        update(Alert)
        .where(Alert.state == AlertState.sending, ~in_flight)
        .values(state=AlertState.active)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
