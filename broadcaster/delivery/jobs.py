"""RQ entry points of the delivery pipeline: they take ids, lease rows, and are safe to rerun."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict
from typing import Any

import redis

from broadcaster.alerts.models import Alert, AlertState
from broadcaster.db.base import utcnow
from broadcaster.db.retry import retrying
from broadcaster.delivery.dispatch import batch_limit
from broadcaster.delivery.items import ItemContext, build_items
from broadcaster.delivery.ledger import Claimed, RecordStats, claim, record_results
from broadcaster.delivery.limits import admit
from broadcaster.delivery.ratelimit import TokenBucket
from broadcaster.delivery.runtime import Runtime, runtime
from channels.base import Channel, ChannelError, Outcome, SendItem, SendResult

log = logging.getLogger(__name__)
SENDABLE = (AlertState.sending, AlertState.active)
RETRY_AFTER = dt.timedelta(seconds=5)


def send_batch(alert_id: int, channel: str) -> dict[str, Any]:
    """Lease one batch of an alert's queued deliveries on a channel and send it."""
    rt = runtime()
    with rt.db.transaction() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.state not in SENDABLE:
            return {"claimed": 0, "skipped": "alert not sending"}
        lease = claim(
            session,
            alert_id=alert_id,
            channel=channel,
            limit=batch_limit(rt.settings, channel),
            lease_seconds=rt.settings.delivery.lease_seconds,
            now=utcnow(),
        )
        session.expunge(alert)
    if not lease.items:
        return {"claimed": 0}
    stats = RecordStats()
    try:
        sender = rt.channel(channel, drill=alert.is_drill)
    except ChannelError as exc:
        _record(rt, lease.token, [_refusal(c, exc) for c in lease.items], stats)
        return {"claimed": len(lease.items), **asdict(stats)}

    def build() -> list[SendItem]:  # a read: safe to run again after a lost connection
        with rt.db.read() as session:
            return build_items(session, ItemContext(rt.settings, alert, channel), lease.items)

    items = retrying(build, what="building send items")
    built = {item.key for item in items}
    unaddressable = [
        SendResult(
            c.id, Outcome.failed, error_code="no_address", message="无可用地址 / nothing to send to"
        )
        for c in lease.items
        if c.id not in built
    ]
    try:
        admission = admit(rt, channel, alert.is_drill, items)
    except redis.RedisError as exc:  # nothing sent: give the lease back (the reconciler kicks)
        _record(rt, lease.token, unaddressable + _unsent(items, exc), stats)
        return {"claimed": len(lease.items), **asdict(stats)}
    if unaddressable or admission.deferred:
        _record(rt, lease.token, unaddressable + admission.deferred, stats)
    _send_rate_limited(rt, sender, channel, alert.is_drill, admission.admitted, lease.token, stats)
    return {"claimed": len(lease.items), **asdict(stats)}


def _refusal(claimed: Claimed, exc: ChannelError) -> SendResult:
    outcome = Outcome.retry if exc.retryable else Outcome.failed
    return SendResult(claimed.id, outcome, error_code=exc.code or "channel", message=exc.message)


def _send_rate_limited(
    rt: Runtime,
    sender: Channel[Any],
    channel: str,
    drill: bool,
    items: list[SendItem],
    token: str,
    stats: RecordStats,
) -> None:
    """Send in chunks the shared rate limit grants; record each chunk as it comes back."""
    bucket = _bucket(rt, channel, drill)
    pending = items
    while pending:
        try:
            granted, wait = bucket.take(len(pending)) if bucket else (len(pending), 0.0)
        except redis.RedisError as exc:  # Redis went away mid-batch: the rest waits for it
            _record(rt, token, _unsent(pending, exc), stats)
            return
        if granted == 0:
            time.sleep(wait)
            continue
        chunk, pending = pending[:granted], pending[granted:]
        _record(rt, token, rt.run(sender.send_batch(chunk)), stats)


def _unsent(items: list[SendItem], exc: Exception) -> list[SendResult]:
    """Items not handed to the provider because Redis (the rate limit) is unavailable."""
    log.warning("Redis unavailable (%s): %d deliveries go back to the queue", exc, len(items))
    message = "限流服务不可用，稍后重发 / rate limiter unavailable, will retry"
    return [
        SendResult(i.key, Outcome.retry, error_code="redis_unavailable", message=message)
        for i in items
    ]


def _bucket(rt: Runtime, channel: str, drill: bool) -> TokenBucket | None:
    rate = rt.settings.twilio.rate_per_second if channel == "sms" else None
    if not rate or rt.redis is None:
        return None
    scope = "drill" if drill else rt.settings.twilio.account_sid
    key = f"{rt.settings.queue_prefix}:rate:{channel}:{scope}"
    return TokenBucket(rt.redis, key, rate)


def _record(rt: Runtime, token: str, results: list[SendResult], stats: RecordStats) -> None:
    def write() -> RecordStats:  # re-checks the lease: safe to run again after a lost COMMIT
        with rt.db.transaction() as session:
            return record_results(
                session, token=token, results=results, now=utcnow(), retry_after=RETRY_AFTER
            )

    got = retrying(write, what="recording send results")
    for name in ("accepted", "failed", "retried", "unknown", "lease_lost"):
        setattr(stats, name, getattr(stats, name) + getattr(got, name))
    if got.lease_lost:
        log.warning("%d results arrived after their lease was lost", got.lease_lost)
