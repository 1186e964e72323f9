"""Job functions the worker tests enqueue; they record what ran in Redis under the job's queue."""

from __future__ import annotations

import time

from rq import get_current_job


def _record(suffix: str, value: str) -> None:
    job = get_current_job()
    assert job is not None
    prefix = job.origin.rsplit(":", 1)[0]  # "<queue_prefix>:<queue>" -> "<queue_prefix>"
    job.connection.rpush(f"{prefix}:{suffix}", value)


def record_queue() -> None:
    """Append this job's queue name to <prefix>:ran."""
    job = get_current_job()
    assert job is not None
    _record("ran", job.origin)


def slow(seconds: float) -> None:
    """Mark <prefix>:slow started, sleep, then mark it done."""
    _record("slow", "started")
    time.sleep(seconds)
    _record("slow", "done")


def record_tick() -> None:
    """Append the time this tick job was enqueued to <prefix>:ticks."""
    job = get_current_job()
    assert job is not None
    assert job.enqueued_at is not None
    _record("ticks", repr(job.enqueued_at.timestamp()))


def stuck_tick() -> None:
    """A tick job that runs for ten minutes: mark <prefix>:slow started, then sleep."""
    _record("slow", "started")
    time.sleep(600)
