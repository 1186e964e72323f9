"""A worker process's pulse: a Redis key it renews every second, so others know it lives."""

# RQ's own registration of a worker cannot tell a busy worker from a SIGKILLed one soon
# enough: a SimpleWorker sets its key to expire at the job's timeout plus 60 s when it starts
# a job (rq 2-3, `get_heartbeat_ttl`) and renews it only between jobs. A tick job left
# "started" by a killed worker then looked alive for four minutes, and with it the reconciler
# it stood for (the crash-safety test waited out that much). The pulse comes from a thread of
# the worker's own process, so it stops the moment the process does, whatever its main
# thread is busy with, and lapses a few seconds later.

from __future__ import annotations

import contextlib
import threading

import redis

from broadcaster.queues import connect

PULSE_EVERY_SECONDS = 1.0
PULSE_LAPSE_MS = 5000  # five beats missed: the process is gone (or cannot reach Redis)


def pulse_key(prefix: str, worker_name: str) -> str:
    """The key that exists while the worker named `worker_name` lives."""
    return f"{prefix}:pulse:{worker_name}"


def has_pulse(connection: redis.Redis, prefix: str, worker_name: str) -> bool:
    """Has the worker `worker_name` renewed its pulse within the last few seconds?"""
    return bool(connection.exists(pulse_key(prefix, worker_name)))


class Pulse(threading.Thread):
    """Renews the pulse of this process's current RQ worker until stopped; a worker that
    restarts its work loop registers under a new name, given with `follow`."""

    def __init__(self, url: str, prefix: str):
        super().__init__(name="pulse", daemon=True)
        self._url = url
        self._prefix = prefix
        self._name: str | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()

    def follow(self, worker_name: str) -> None:
        """Beat for `worker_name` from now on, the first beat at once."""
        self._name = worker_name
        self._wake.set()

    def run(self) -> None:
        connection = connect(self._url)
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                if self._name is not None:
                    with contextlib.suppress(redis.RedisError):  # Redis away: no pulse
                        connection.set(pulse_key(self._prefix, self._name), 1, px=PULSE_LAPSE_MS)
                self._wake.wait(PULSE_EVERY_SECONDS)
            if self._name is not None:  # a warm stop: no one need wait out the lapse
                with contextlib.suppress(redis.RedisError):
                    connection.delete(pulse_key(self._prefix, self._name))
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout=5)
