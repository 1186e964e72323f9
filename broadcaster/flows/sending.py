"""RQ entry points of the delivery pipeline: they take ids, lease rows, and are safe to rerun."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

import redis
from sqlalchemy.orm import Session

from broadcaster.alerts.models import NOTICE_STATES, SENDING_STATES, Alert
from broadcaster.alerts.revisions import closing_notes
from broadcaster.db.base import utcnow
from broadcaster.db.retry import retrying
from broadcaster.delivery.dispatch import batch_limit
from broadcaster.delivery.items import (
    Builder,
    ItemContext,
    email_items,
    hook_urls,
    loudspeaker_items,
    sms_items,
    voice_items,
    wecom_items,
)
from broadcaster.delivery.ledger import Claimed, Lease, RecordStats, claim, record_results
from broadcaster.delivery.limits import Admission, admit, bucket_for
from broadcaster.delivery.pacing import Pace
from broadcaster.delivery.runtime import Runtime, runtime
from broadcaster.delivery.stream import RETRY_AFTER, note
from broadcaster.relay.items import relay_items
from channels.base import Channel, ChannelError, Outcome, Reach, SendItem, SendResult
from channels.registry import ChannelClass, reach_of

log = logging.getLogger(__name__)

BUILDERS: dict[Reach, Builder] = {
    Reach.mobile: sms_items,
    Reach.email: email_items,
    Reach.phone: voice_items,
    Reach.group_robot: wecom_items,
    Reach.loudspeaker: loudspeaker_items,
    Reach.group_owner: relay_items,
}


def build_items(session: Session, ctx: ItemContext, claimed: list[Claimed]) -> list[SendItem]:
    """Items for the channel, built for the addresses it reaches."""
    if any(c.notice for c in claimed):
        ctx.notes.update(closing_notes(session, ctx.alert.id))
    return BUILDERS[reach_of(ctx.channel)](session, ctx, claimed)


def send_batch(alert_id: int, channel: str) -> dict[str, Any]:
    """Lease one batch of an alert's queued deliveries on a channel and send it. Answers are
    recorded as they arrive; requests still out when the rest is done (timeouts on their
    way) are left to the process's recorder, and the worker takes its next batch."""
    rt = runtime()
    _wait_for_room(rt)
    with rt.db.transaction() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.state not in (*SENDING_STATES, *NOTICE_STATES):
            return {"claimed": 0, "skipped": "alert not sending"}
        provider = _provider(rt, channel, drill=alert.is_drill)
        lease = claim(  # each attempt names the provider that carries it
            session,
            alert_id=alert_id,
            channel=channel,
            limit=batch_limit(rt.settings, channel),
            lease_seconds=rt.settings.delivery.lease_seconds,
            now=utcnow(),
            provider=None if isinstance(provider, ChannelError) else provider.provider,
            notices_only=alert.state in NOTICE_STATES,  # ended: its closing notices only
        )
        session.expunge(alert)
    if not lease.items:
        return {"claimed": 0}
    with rt.recorder.keeping(lease.token):  # the lease's heartbeat while the sends are made
        return _send_lease(rt, alert, channel, provider, lease)


def _send_lease(
    rt: Runtime, alert: Alert, channel: str, provider: ChannelClass | ChannelError, lease: Lease
) -> dict[str, Any]:
    """Build, admit and send a leased batch; answers are recorded as they come."""
    stats = RecordStats()
    try:
        if isinstance(provider, ChannelError):
            raise provider
        sender = rt.channel(provider.name, drill=alert.is_drill)
    except ChannelError as exc:
        _record(rt, lease.token, [_refusal(c, exc) for c in lease.items], stats)
        return {"claimed": len(lease.items), **asdict(stats)}
    ctx = ItemContext(rt.settings, alert, channel, hook_urls(rt.settings, provider))

    def build() -> list[SendItem]:  # a read: safe to run again after a lost connection
        with rt.db.read() as session:
            return build_items(session, ctx, lease.items)

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
        admission = admit(rt, channel, alert.is_drill, items, sender.limits())
    except redis.RedisError as exc:  # nothing sent: give the lease back (the reconciler kicks)
        _record(rt, lease.token, unaddressable + _unsent(items, exc), stats)
        return {"claimed": len(lease.items), **asdict(stats)}
    if unaddressable or admission.deferred:
        _record(rt, lease.token, unaddressable + admission.deferred, stats)
    _send_rate_limited(rt, sender, (channel, provider.name), alert.is_drill, admission, lease.token)
    stats.add(rt.recorder.wait(lease.token, all_of_it=rt.short_lived))
    return {"claimed": len(lease.items), **asdict(stats)}


def _provider(rt: Runtime, medium: str, *, drill: bool) -> ChannelClass | ChannelError:
    """The provider that carries the medium now, or why none can (recorded on the batch)."""
    try:
        return rt.carrier(medium, drill=drill)
    except ChannelError as exc:
        return exc


def _wait_for_room(rt: Runtime) -> None:
    """Answers still on their way (timeouts to come) hold connections: take no new batch
    while this process waits for more of them than its connections allow."""
    room = rt.settings.delivery.concurrency * 4
    deadline = time.monotonic() + rt.settings.delivery.lease_seconds
    while rt.recorder.backlog() > room and time.monotonic() < deadline:
        time.sleep(0.05)


def _refusal(claimed: Claimed, exc: ChannelError) -> SendResult:
    outcome = Outcome.retry if exc.retryable else Outcome.failed
    return SendResult(claimed.id, outcome, error_code=exc.code or "channel", message=exc.message)


def _send_rate_limited(
    rt: Runtime,
    sender: Channel[Any],
    carrier: tuple[str, str],
    drill: bool,
    admission: Admission,
    token: str,
) -> None:
    """Hand the admitted items to the channel loop in the chunks the shared rate limit
    grants; `carrier`: the medium and the provider (channel name) sending it. What the
    provider does not accept gives its per-number counts back as its answer is written."""
    medium, provider = carrier
    items = admission.admitted
    rt.recorder.open(token, len(items), admission.answered)
    bucket = bucket_for(rt, sender.limits(), drill)
    breaker = rt.breaker(provider, drill=drill)
    pace = Pace(bucket.key, bucket.rate, bucket.burst) if bucket else None

    def elsewhere() -> bool:  # another provider of the medium would take the next batch
        return rt.carrier(medium, drill=drill).name != provider

    pending = items
    while pending:
        try:
            granted, wait = bucket.take(len(pending)) if bucket else (len(pending), 0.0)
        except redis.RedisError as exc:  # Redis went away mid-batch: the rest waits for it
            rt.recorder.settle(token, _unsent(pending, exc))
            return
        if granted == 0:
            time.sleep(wait)
            continue
        chunk, pending = pending[:granted], pending[granted:]
        rt.recorder.submit(token, sender, chunk, breaker, elsewhere, pace)


def _unsent(items: list[SendItem], exc: Exception) -> list[SendResult]:
    """Items not handed to the provider because Redis (the rate limit) is unavailable."""
    log.warning("Redis unavailable (%s): %d deliveries go back to the queue", exc, len(items))
    message = "限流服务不可用，稍后重发 / rate limiter unavailable, will retry"
    return [
        SendResult(i.key, Outcome.retry, error_code="redis_unavailable", message=message)
        for i in items
    ]


def _record(rt: Runtime, token: str, results: list[SendResult], stats: RecordStats) -> None:
    def write() -> RecordStats:  # re-checks the lease: safe to run again after a lost COMMIT
        with rt.db.transaction() as session:
            return record_results(
                session, token=token, results=results, now=utcnow(), retry_after=RETRY_AFTER
            )

    got = retrying(write, what="recording send results")
    stats.add(got)
    note(got)
