"""RQ worker on the project's queues, with RQ's scheduler and the cluster-wide periodic ticks;
it outlives Redis outages: the work loop restarts with back-off until asked to stop."""

# RQ's own loop retries a lost connection only while waiting for a job; anywhere else (its
# heartbeat, maintenance, recording a job's end) a Redis error makes `work()` log "unhandled
# exception, quitting" and return, and `register_birth` raises straight out of it. Here a
# quit that nobody asked for is a reason to wait for Redis and work again, with a new worker
# registration; only SIGTERM/SIGINT (or burst mode) ends the loop. The ticker thread runs
# across those restarts. Jobs are safe to rerun (DESIGN §9), and the reconciler rebuilds
# from the database whatever Redis lost (invariant 1).

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Literal

import redis
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested

from broadcaster.alerts.policy_check import check_policies
from broadcaster.pulse import Pulse
from broadcaster.queues import all_queues, connect
from broadcaster.redis_embedded import resolve_redis_url
from broadcaster.settings import Settings
from broadcaster.ticks import (
    Periodic,
    Ticker,
    fire_due_ticks,
    register_periodic,
    registered_periodic,
    tick_key,
)

__all__ = [
    "Periodic",
    "fire_due_ticks",
    "register_periodic",
    "registered_periodic",
    "run_worker",
    "tick_key",
]

log = logging.getLogger(__name__)

WorkerClass = Literal["simple", "fork"]
PR_SET_PDEATHSIG = 1  # Linux prctl: the signal a process gets when its parent dies
RECONNECT_MAX_SECONDS = 1.0  # a ping a second while Redis is away: back to work at once
PUBSUB_JOIN_SECONDS = 5.0


class _StopAware:
    """Mixin: a stop signal is remembered here, and never fails for want of Redis; a lost
    Redis is retried once a second while waiting for a job (RQ backs off to a minute)."""

    stop_event: threading.Event
    max_connection_wait_time = RECONNECT_MAX_SECONDS

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_event.set()
        # Busy: RQ sets _stop_requested before it touches Redis, so a failure there is moot.
        with contextlib.suppress(redis.RedisError):
            super().request_stop(signum, frame)  # type: ignore[misc]

    def unsubscribe(self) -> None:
        """RQ's, in an order that cannot wait a minute. RQ (3.0) sends UNSUBSCRIBE, then stops
        its pubsub thread, and redis-py's `stop()` (8.2) joins that thread without a timeout.
        If the thread reads the reply in between, it is no longer subscribed and waits its
        60 s `sleep_time` for a new subscription before it looks at the stop flag again: a
        SIGTERMed worker took a minute to exit now and then, more often on a busy machine.
        Here the flag is cleared first, so the reply that wakes the thread also ends it."""
        thread: Any = getattr(self, "pubsub_thread", None)
        pubsub: Any = getattr(self, "pubsub", None)
        if thread is None or pubsub is None:
            return
        running = getattr(thread, "_running", None)  # what stop() clears (redis-py 5 to 8)
        if not isinstance(running, threading.Event):  # another redis-py: RQ's own way
            super().unsubscribe()  # type: ignore[misc]
            return
        running.clear()
        with contextlib.suppress(redis.RedisError):
            pubsub.unsubscribe()
        thread.join(timeout=PUBSUB_JOIN_SECONDS)
        with contextlib.suppress(redis.RedisError):
            pubsub.close()


class _Simple(_StopAware, SimpleWorker):
    pass


class _Fork(_StopAware, Worker):
    pass


# SimpleWorker runs jobs in-process: a fork costs ~28 ms per job (DESIGN §10) and our jobs
# are batches that reuse pooled clients. "fork" isolates each job in a child process.
WORKER_CLASSES: dict[str, type[_Simple] | type[_Fork]] = {"simple": _Simple, "fork": _Fork}


def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    worker_class: WorkerClass = "simple",
    periodic: Sequence[Periodic] | None = None,
    rq_log_level: str = "WARNING",
) -> None:
    """Work the project's queues in priority order until SIGTERM/SIGINT (or empty, if burst).

    SIGTERM or SIGINT asks for a warm shutdown: the current job finishes, then the worker
    stops; a second signal stops it cold. Periodic ticks (`periodic`, default: the
    registered ones) run only in long-running workers, never in burst mode. A lost Redis
    never ends a long-running worker: it waits for Redis and works again. RQ's own log
    (a line per job) shows from `rq_log_level` up.
    """
    check_policies(settings.config_dir)  # a level leaving a household unaddressed: no start
    if not burst:
        _forks_die_with_this_process()
    url, embedded = resolve_redis_url(settings)
    saved = _save_signal_handlers()
    connection = connect(url)
    ticker: Ticker | None = None
    pulse = Pulse(url, settings.queue_prefix)
    pulse.start()
    stop = threading.Event()
    try:
        ticks = [] if burst else (registered_periodic() if periodic is None else list(periodic))
        while True:
            try:
                worker = WORKER_CLASSES[worker_class](
                    all_queues(connection, settings), connection=connection
                )
                worker.stop_event = stop
                pulse.follow(worker.name)
                if ticks and ticker is None:
                    ticker = Ticker(url, settings, ticks, owner=worker.name)
                    ticker.start()
                worker.work(burst=burst, with_scheduler=with_scheduler, logging_level=rq_log_level)
            except StopRequested:  # a signal between RQ's loop and ours
                return
            except redis.RedisError as exc:
                log.warning("worker: Redis failed (%s)", exc)
            if burst or stop.is_set():
                return
            log.warning("worker: the work loop ended without a stop request; working again")
            if not _wait_for_redis(connection, stop):
                return
    finally:
        if ticker is not None:
            ticker.stop()
        pulse.stop()
        _restore_signal_handlers(saved)
        connection.close()
        if embedded is not None:
            embedded.stop()


_FORK_HOOK: list[bool] = []


def _forks_die_with_this_process() -> None:
    if not _FORK_HOOK:
        os.register_at_fork(after_in_child=_die_with_parent)
        _FORK_HOOK.append(True)


def _die_with_parent() -> None:
    """A forked child of a worker (RQ's scheduler process, a work horse) ends when the worker
    dies: a SIGKILLed worker otherwise left its scheduler running, orphaned, for good."""
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere as before
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the worker died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _wait_for_redis(connection: redis.Redis, stop: threading.Event) -> bool:
    """Ping with back-off until Redis answers (True) or a stop signal comes (False)."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:  # RQ's handlers belong to the worker that quit; stopping now is ours
        for sig in previous:
            signal.signal(sig, lambda _signum, _frame: stop.set())
    wait = 0.1
    try:
        while not stop.is_set():
            try:
                if connection.ping():
                    return True
            except redis.RedisError:
                pass
            stop.wait(wait)
            wait = min(RECONNECT_MAX_SECONDS, wait * 2)
        return False
    finally:
        if on_main:
            for sig, handler in previous.items():
                if handler is not None:
                    signal.signal(sig, handler)


_Handler = Callable[[int, FrameType | None], Any] | int | None  # what signal.getsignal returns


def _save_signal_handlers() -> dict[signal.Signals, _Handler]:
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(saved: dict[signal.Signals, _Handler]) -> None:
    """Put back the handlers RQ replaced, so an embedding process keeps its own."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in saved.items():
        if handler is not None:
            signal.signal(sig, handler)
