"""Ticks asked for at a given time (a reconcile a grace from now): kept in Redis, fired by
the tickers of every process, once cluster-wide."""

# A process that needs a tick sooner than its next periodic one (look up again in 5 s, a
# callback gap to close, a held-back delivery whose window ends) adds a due time to the
# tick's sorted set. Every ticker (see broadcaster.ticks) takes what is due with one atomic
# script, so exactly one process gets each due time, and enqueues the tick's job itself. RQ's
# own scheduler (`enqueue_in`) is not used for this: it moves scheduled jobs only in the
# worker holding its lock, and a SIGKILLed worker keeps that lock until it expires (a
# restart's look-ups ran 17 s after the restart instead of 5 s). Lost with Redis's data, a
# due time is covered by the periodic tick (and the reconciler's kick when Redis is back).

from __future__ import annotations

import time
from collections.abc import Iterable

import redis

from broadcaster.settings import Settings

MAX_WHY = 120
# Take every member due by ARGV[1] and remove them in one step: one caller gets them.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #due > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) end
return due
"""


def due_key(settings: Settings, name: str) -> str:
    """The sorted set of the due times of tick `name` (score: epoch seconds)."""
    return f"{settings.queue_prefix}:tick:{name}:due"


def schedule_tick(
    connection: redis.Redis,
    settings: Settings,
    name: str,
    in_seconds: float = 0.0,
    why: str = "",
    *,
    at: float | None = None,
) -> float:
    """Ask for tick `name` in `in_seconds`, or at the epoch second `at` (one due time
    however often it is asked for with the same `at` and reason); returns when it is due."""
    due = time.time() + max(0.0, in_seconds) if at is None else at
    connection.zadd(due_key(settings, name), {f"{due:.3f} {why[:MAX_WHY]}": due})
    return due


def claim_due(
    connection: redis.Redis, settings: Settings, name: str, now: float | None = None
) -> list[str]:
    """The reasons of tick `name` due by `now`, taken off the schedule: another process
    calling at the same moment gets none of them."""
    at = time.time() if now is None else now
    taken = connection.eval(_CLAIM, 1, due_key(settings, name), repr(at))
    return [_why(member) for member in taken or []]


def _why(member: bytes | str) -> str:
    text = member.decode() if isinstance(member, bytes) else member
    return text.partition(" ")[2]


def next_due(connection: redis.Redis, settings: Settings, names: Iterable[str]) -> float | None:
    """The soonest due time of these ticks (None: nothing scheduled)."""
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.zrange(due_key(settings, name), 0, 0, withscores=True)
        found = [float(score) for head in pipe.execute() for _member, score in head]
    return min(found) if found else None
