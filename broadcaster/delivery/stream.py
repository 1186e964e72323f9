"""The channel send loop: each answer is recorded as it arrives, in small groups, under
leases that a heartbeat keeps alive; a slow request holds up only itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from broadcaster.db.base import utcnow
from broadcaster.delivery.breaker import Breaker
from broadcaster.delivery.ledger import RecordStats, extend_leases, record_results
from channels.base import Channel, SendItem, SendResult

log = logging.getLogger(__name__)
RETRY_AFTER = dt.timedelta(seconds=5)
FLUSH_SIZE = 200  # answers per transaction at most
FLUSH_WAIT = 0.05  # seconds an answer may wait for others to share its transaction
WRITE_TRIES = 5


@dataclass
class _Done:
    """A pump ended; `missing` items got no answer (their leases run out, then lookups)."""

    missing: int


@dataclass
class _Lease:
    outstanding: int
    stats: RecordStats = field(default_factory=RecordStats)
    active_at: float = field(default_factory=time.monotonic)
    finished: threading.Event = field(default_factory=threading.Event)


class Recorder:
    """Writes answers for every lease of this process on one thread, and renews the leases
    that still have requests out. A job hands its items over and may leave its stragglers
    (requests waiting for a timeout) here while its worker takes the next batch."""

    def __init__(self, db: Any, loop: asyncio.AbstractEventLoop, lease_seconds: float) -> None:
        self.db = db
        self.loop = loop
        self.lease_seconds = lease_seconds
        self._queue: queue.Queue[tuple[str, SendResult | _Done]] = queue.Queue()
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def open(self, token: str, count: int) -> None:
        with self._lock:
            self._leases[token] = _Lease(count)
            if count <= 0:
                self._leases[token].finished.set()

    def backlog(self) -> int:
        """Requests of this process still waiting for an answer."""
        with self._lock:
            return sum(lease.outstanding for lease in self._leases.values())

    def submit(
        self, token: str, sender: Channel[Any], items: Sequence[SendItem], breaker: Breaker
    ) -> None:
        """Send the items on the channel loop; their answers come to this recorder."""
        with self._lock:
            self._leases[token].active_at = time.monotonic()
        asyncio.run_coroutine_threadsafe(self._pump(token, sender, items, breaker), self.loop)

    async def _pump(
        self, token: str, sender: Channel[Any], items: Sequence[SendItem], breaker: Breaker
    ) -> None:
        answered = 0
        try:
            # Held items (breaker open) come back as retry/circuit_open and wait, queued.
            # Failover to a medium's next provider (issue 18) belongs here: send them there.
            async for result in sender.send_stream(items, breaker):
                breaker.record(result)
                answered += 1
                self._queue.put((token, result))
        except Exception:
            log.exception("channel %s stopped mid-batch; the rest is reconciled", sender.name)
        finally:
            self._queue.put((token, _Done(len(items) - answered)))

    def wait(self, token: str, *, stragglers_after: float, all_of_it: bool) -> RecordStats:
        """Until every answer is in, or (unless `all_of_it`) none came for a while: the rest
        are stragglers, recorded here when they come."""
        with self._lock:
            lease = self._leases[token]
        while not lease.finished.wait(0.05):
            if not all_of_it and time.monotonic() - lease.active_at > stragglers_after:
                break
        with self._lock:
            if lease.finished.is_set():
                self._leases.pop(token, None)
            return lease.stats

    def close(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        beat = time.monotonic()
        while not self._stop.is_set():
            batch = self._collect()
            if batch:
                self._write(batch)
            if time.monotonic() - beat >= self.lease_seconds / 3:
                beat = time.monotonic()
                self._heartbeat()

    def _collect(self) -> list[tuple[str, SendResult | _Done]]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + FLUSH_WAIT
        while len(batch) < FLUSH_SIZE:
            try:
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[tuple[str, SendResult | _Done]]) -> None:
        by_token: dict[str, list[SendResult]] = {}
        for token, entry in batch:
            if isinstance(entry, SendResult):
                by_token.setdefault(token, []).append(entry)
        got: dict[str, RecordStats] = {}
        for attempt in range(WRITE_TRIES):
            try:
                got = self._record(by_token)
                break
            except Exception:
                if attempt == WRITE_TRIES - 1:  # the leases run out; the reconciler looks up
                    log.exception("could not record %d answers", len(batch))
                else:
                    time.sleep(0.1 * 2**attempt)
        now = time.monotonic()
        with self._lock:
            for token, entry in batch:
                lease = self._leases.get(token)
                if lease is None:
                    continue
                lease.outstanding -= 1 if isinstance(entry, SendResult) else entry.missing
                lease.active_at = now
                if lease.outstanding <= 0:
                    lease.finished.set()
            for token, stats in got.items():
                if token in self._leases:
                    self._leases[token].stats.add(stats)
            for token, lease in list(self._leases.items()):
                if lease.finished.is_set() and time.monotonic() - lease.active_at > 60:
                    del self._leases[token]  # nobody waited for it (its job left early)

    def _record(self, by_token: dict[str, list[SendResult]]) -> dict[str, RecordStats]:
        got: dict[str, RecordStats] = {}
        with self.db.transaction() as session:
            now = utcnow()
            for token, results in by_token.items():
                got[token] = record_results(
                    session, token=token, results=results, now=now, retry_after=RETRY_AFTER
                )
        for stats in got.values():
            note(stats)
        return got

    def _heartbeat(self) -> None:
        with self._lock:
            tokens = [t for t, lease in self._leases.items() if lease.outstanding > 0]
        if not tokens:
            return
        try:
            with self.db.transaction() as session:
                extend_leases(session, tokens, now=utcnow(), lease_seconds=self.lease_seconds)
        except Exception:
            log.exception("lease heartbeat failed; will try again")


def note(stats: RecordStats) -> None:
    """Log what deserves it: a real lease loss, never the callback-before-result race."""
    if stats.lease_lost:
        log.warning("%d results arrived after their lease was lost", stats.lease_lost)
    if stats.reported_first:
        log.debug("%d results found their status callback already applied", stats.reported_first)
