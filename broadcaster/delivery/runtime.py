"""Per-process resources of a worker: database, Redis, and channels on one event-loop thread.

RQ runs jobs synchronously; channels are async and keep pooled HTTP connections. One
long-lived loop per process lets every job reuse the same open channels.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import redis

from broadcaster.db.database import Database
from broadcaster.delivery.breaker import Breaker
from broadcaster.delivery.breaker_board import publisher
from broadcaster.delivery.channel_config import build_channel
from broadcaster.delivery.providers import provider_for
from broadcaster.delivery.stream import Recorder
from broadcaster.queues import connect
from broadcaster.settings import Settings, get_settings
from channels.base import Channel
from channels.registry import ChannelClass

T = TypeVar("T")
# A forked work-horse (RQ's forking worker) exits after its job: nothing may outlive the job.
_forked = False


def _after_fork() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (with uvicorn[standard]): the channel loop's I/O is the
    hot path of a fan-out; else the standard loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard] on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Runtime:
    """What jobs of this process share; made on first use, never at import time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.resolved_database_url)
        self.redis: redis.Redis | None = connect(settings.redis_url) if settings.redis_url else None
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="channels", daemon=True)
        self._thread.start()
        self._channels: dict[tuple[str, bool], Channel[Any]] = {}
        self._breakers: dict[tuple[str, bool], Breaker] = {}
        # Never held while waiting for the channel loop: the loop's gates ask for breakers
        # (failover) while a job thread may be opening a channel on it.
        self._lock = threading.Lock()
        self.recorder = Recorder(self.db, self._loop, settings.delivery.lease_seconds)
        self.short_lived = _forked

    def breaker(self, name: str, *, drill: bool) -> Breaker:
        """The circuit breaker of a provider's credential (drills apart)."""
        with self._lock:
            key = (name, drill)
            if key not in self._breakers:
                tell = publisher(self.redis, self.settings.queue_prefix, name, drill=drill)
                self._breakers[key] = Breaker(self.settings.delivery.breaker, listener=tell)
            return self._breakers[key]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the channel loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def carrier(self, medium: str, *, drill: bool) -> ChannelClass:
        """The provider that carries a medium's next batch: the first configured one whose
        breaker is not open in this process (failover), see `provider_for`."""
        return provider_for(
            medium, self.settings, lambda cls: self.breaker(cls.name, drill=drill).available()
        )

    def channel(self, name: str, *, drill: bool) -> Channel[Any]:
        """A provider's open channel for real sends or for drills (to the simulator only);
        opened on the loop without holding the lock (one opened twice at once: one kept)."""
        key = (name, drill)
        with self._lock:
            found = self._channels.get(key)
        if found is not None:
            return found
        channel = build_channel(name, self.settings, drill=drill)
        self.run(channel.open())
        with self._lock:
            kept = self._channels.setdefault(key, channel)
        if kept is not channel:
            self.run(channel.close())
        return kept

    def close(self) -> None:
        self.recorder.close()
        for channel in self._channels.values():
            self.run(channel.close())
        self._channels.clear()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self.db.dispose()


_current: tuple[int, Runtime] | None = None


def runtime() -> Runtime:
    """This process's runtime (a forked child builds its own)."""
    global _current
    if _current is None or _current[0] != os.getpid():
        _current = (os.getpid(), Runtime(get_settings()))
    return _current[1]
