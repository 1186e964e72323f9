"""Redis connections and the project's RQ queues, named under `settings.queue_prefix`."""

from __future__ import annotations

import redis
from rq import Queue

from broadcaster.settings import Settings

TICKS = "ticks"  # the periodic ticks that keep time: ahead of every send
URGENT = "urgent"  # red and orange alerts' sends: drained first of the sends
SEND = "send"  # ordinary send batches
DEFAULT = "default"  # everything else: the counts' drift check, housekeeping

# The ticks have a queue of their own: the reconciler takes an empty send queue for sends
# Redis lost, and ticks waiting on the urgent queue hid them (an alert issued while Redis was
# down, Redis back empty: the kicked reconcile found the other ticks queued and sent nothing).
QUEUE_ORDER: tuple[str, ...] = (TICKS, URGENT, SEND, DEFAULT)
"""Priority order: a worker always takes from the first non-empty queue."""


def connect(url: str) -> redis.Redis:
    """A Redis client for `url` (redis://, rediss:// or unix://) as RQ needs it (bytes)."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


def queue_name(name: str, settings: Settings) -> str:
    """The full RQ queue name of one of QUEUE_ORDER, e.g. "broadcaster:urgent"."""
    if name not in QUEUE_ORDER:
        raise ValueError(f"unknown queue {name!r}; expected one of {', '.join(QUEUE_ORDER)}")
    return f"{settings.queue_prefix}:{name}"


def get_queue(name: str, connection: redis.Redis, settings: Settings) -> Queue:
    """The RQ queue `name` (ticks, urgent, send or default) of this deployment."""
    return Queue(queue_name(name, settings), connection=connection)


def all_queues(connection: redis.Redis, settings: Settings) -> list[Queue]:
    """Every queue of this deployment, highest priority first."""
    return [get_queue(name, connection, settings) for name in QUEUE_ORDER]
