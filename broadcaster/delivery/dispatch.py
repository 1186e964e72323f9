"""Enqueueing send jobs after commit: jobs carry ids only and say "look at the database"."""

from __future__ import annotations

import logging
import math

import redis
from rq import Queue

from broadcaster.alerts.models import Level
from broadcaster.delivery.channel_config import channel_limits
from broadcaster.queues import SEND, URGENT, get_queue
from broadcaster.settings import Settings

log = logging.getLogger(__name__)
SEND_JOB = "broadcaster.flows.sending.send_batch"
ENQUEUE_CHUNK = 1000
BATCH_SECONDS = 5  # a batch is what the rate limit lets go in this long (leases are renewed)
JOB_TIMEOUT = 600  # a job's heartbeat keeps its lease; this only stops a job that hangs


def batch_limit(settings: Settings, channel: str) -> int:
    """Deliveries per job: the configured batch, at most a few seconds at the rate limit, so
    that a lease covers what is about to go and other workers share the rest."""
    rate = channel_limits(channel, settings).rate_per_second
    limit = settings.delivery.batch_size
    if rate:
        limit = min(limit, max(1, int(rate * BATCH_SECONDS)))
    return limit


def queue_for(level: Level) -> str:
    """Red and orange alerts jump every other send."""
    return URGENT if level in (Level.red, Level.orange) else SEND


def enqueue_sends(
    settings: Settings,
    connection: redis.Redis,
    *,
    alert_id: int,
    level: Level,
    channel_counts: dict[str, int],
) -> int:
    """One job per batch of queued deliveries; extra jobs find nothing and end at once."""
    queue: Queue = get_queue(queue_for(level), connection, settings)
    jobs = [
        Queue.prepare_data(
            SEND_JOB,
            args=(alert_id, channel),
            result_ttl=300,
            failure_ttl=86400,
            timeout=JOB_TIMEOUT,
        )
        for channel, count in channel_counts.items()
        for _ in range(math.ceil(count / batch_limit(settings, channel)))
    ]
    for start in range(0, len(jobs), ENQUEUE_CHUNK):
        with connection.pipeline() as pipe:
            queue.enqueue_many(jobs[start : start + ENQUEUE_CHUNK], pipeline=pipe)
            pipe.execute()
    return len(jobs)


def try_enqueue_sends(
    settings: Settings,
    connection: redis.Redis | None,
    *,
    alert_id: int,
    level: Level,
    channel_counts: dict[str, int],
) -> int:
    """Enqueue, but never fail the caller: the reconciler re-enqueues from the database."""
    if connection is None:
        log.warning("no Redis configured; alert %s waits for the reconciler", alert_id)
        return 0
    try:
        return enqueue_sends(
            settings, connection, alert_id=alert_id, level=level, channel_counts=channel_counts
        )
    except redis.RedisError:
        log.exception("enqueue failed for alert %s; the reconciler will retry", alert_id)
        return 0
