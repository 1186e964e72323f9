"""The channel send loop: each answer is recorded as it arrives, in small groups, under
leases that a heartbeat keeps alive; a slow request holds up only itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from broadcaster.db.base import utcnow
from broadcaster.delivery.breaker import Breaker, is_failure
from broadcaster.delivery.gates import CountingGate, with_cause
from broadcaster.delivery.ledger import RecordStats, extend_leases, record_results
from broadcaster.delivery.pacing import DeparturePacer, Pace
from channels.base import Channel, SendItem, SendResult

log = logging.getLogger(__name__)
RETRY_AFTER = dt.timedelta(seconds=5)
FLUSH_SIZE = 200  # answers per transaction at most
FLUSH_WAIT = 0.05  # seconds an answer may wait for others to share its transaction
WRITE_TRIES = 5
QUICK_RETRIES = 5  # immediate tries of a request the provider refused without sending
QUICK_BACKOFF = 0.2  # seconds before the first of them, doubling


@dataclass
class _Done:
    """A pump ended; `missing` items got no answer (their leases run out, then lookups)."""

    missing: int


@dataclass
class _Lease:
    count: int
    outstanding: int
    answered: Callable[[list[SendResult]], None] | None = None  # settles the items' limits
    dispatched: int = 0  # requests that went out (the gate is asked as each one goes)
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
        self.pacer = DeparturePacer()  # used on the loop only
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def open(
        self,
        token: str,
        count: int,
        answered: Callable[[list[SendResult]], None] | None = None,
    ) -> None:
        """Expect `count` answers for the lease; `answered` is told them before they are
        written (the limits give back what the provider did not take)."""
        with self._lock:
            self._leases[token] = _Lease(count, count, answered)
            if count <= 0:
                self._leases[token].finished.set()

    @contextmanager
    def keeping(self, token: str) -> Iterator[None]:
        """The lease's heartbeat from its claim on, while the job builds and admits its items
        (until `open`): a slow start must not let it run out before anything is sent."""
        placeholder = _Lease(0, 1)
        with self._lock:
            self._leases[token] = placeholder
        try:
            yield
        finally:
            with self._lock:
                if self._leases.get(token) is placeholder:
                    del self._leases[token]

    def backlog(self) -> int:
        """Requests of this process still waiting for an answer."""
        with self._lock:
            return sum(max(0, lease.outstanding) for lease in self._leases.values())

    def submit(
        self,
        token: str,
        sender: Channel[Any],
        items: Sequence[SendItem],
        breaker: Breaker,
        elsewhere: Callable[[], bool] | None = None,
        pace: Pace | None = None,
    ) -> None:
        """Send the items on the channel loop; their answers come to this recorder.
        `elsewhere`: whether another provider of the medium could take what the breaker
        holds back (then held items are queued again at once, for it). `pace`: the rate
        of the provider credential, kept as the items leave."""
        with self._lock:
            lease = self._leases[token]
        gate = CountingGate(breaker, lease, elsewhere)
        pump = self._pump(token, sender, items, gate, pace)
        asyncio.run_coroutine_threadsafe(pump, self.loop)

    def settle(self, token: str, results: Sequence[SendResult]) -> None:
        """Answers known without a request (nothing was sent): recorded like the others."""
        for result in results:
            self._queue.put((token, result))

    async def _pump(
        self,
        token: str,
        sender: Channel[Any],
        items: Sequence[SendItem],
        gate: CountingGate,
        pace: Pace | None = None,
    ) -> None:
        """Send (at the credential's rate as the items leave, see `DeparturePacer`) and
        pass each answer on. A refusal that says nothing was sent (HTTP 5xx, no
        connection) is tried again at once, a few times with a short back-off, without
        holding up the rest; held items (breaker open) come back as retry/circuit_open and
        wait, queued — briefly when another provider of the medium can take them (failover:
        the next batch goes to it, see `provider_for`). An item the provider refused before
        the breaker held it keeps the provider's refusal on record (the cause, for health)."""
        by_key = {item.key: item for item in items}
        refused: dict[int, SendResult] = {}  # the provider's last refusal of a retried item
        answered = 0
        later: set[asyncio.Task[None]] = set()

        async def send(batch: Sequence[SendItem], tries: int) -> None:
            nonlocal answered
            async for result in sender.send_stream(batch, gate):
                gate.breaker.record(result)
                if tries < QUICK_RETRIES and is_failure(result) and result.retryable:
                    refused[result.key] = result
                    later.add(asyncio.ensure_future(again(by_key[result.key], tries + 1)))
                    continue
                answered += 1
                self._queue.put((token, with_cause(result, refused.get(result.key))))

        async def again(item: SendItem, tries: int) -> None:
            await asyncio.sleep(QUICK_BACKOFF * 2 ** (tries - 1))
            await send([item], tries)

        try:
            if pace is not None:
                await self.pacer.turn(pace, len(items))
            await send(items, 0)
            while pending := [task for task in later if not task.done()]:
                await asyncio.wait(pending)
            for task in later:
                task.result()  # raise what a retry raised
        except Exception:
            log.exception("channel %s stopped mid-batch; the rest is reconciled", sender.name)
        finally:
            self._queue.put((token, _Done(len(items) - answered)))

    def wait(self, token: str, *, all_of_it: bool) -> RecordStats:
        """Until every answer is in, or (unless `all_of_it`) every request has gone out: the
        answers still on their way are recorded here when they come."""
        with self._lock:
            lease = self._leases[token]
        while not lease.finished.wait(0.02):
            if not all_of_it and lease.dispatched >= lease.count:
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
        self._settle_limits(by_token)  # before the writes queue refused items again
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

    def _settle_limits(self, by_token: dict[str, list[SendResult]]) -> None:
        """Tell each lease's limits its answers (one call per lease)."""
        with self._lock:
            owners = {
                token: self._leases[token].answered for token in by_token if token in self._leases
            }
        for token, results in by_token.items():
            answered = owners.get(token)
            if answered is None:
                continue
            try:
                answered(results)
            except Exception:  # the windows stay counted as admitted: the safe side
                log.warning("could not settle the limits of %d answers", len(results))

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
