"""The send loop records each answer as it arrives: one request that hangs holds up only
itself, its batch's other answers are in the database meanwhile, and its lease is renewed
by the heartbeat until its answer comes (and from its claim on); opening a channel never
deadlocks with the loop's gates."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery import runtime as runtime_module
from broadcaster.delivery.breaker import Breaker
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.pacing import Pace
from broadcaster.delivery.reconciler import expire_leases
from broadcaster.delivery.runtime import Runtime
from broadcaster.delivery.stream import Recorder
from broadcaster.settings import BreakerSettings, Settings
from channels.base import (
    Audience,
    Capabilities,
    Channel,
    Outcome,
    SendGate,
    SendItem,
    SendResult,
)
from tests.integration.ledger_support import leased

S = DeliveryState


class Nothing(BaseModel):
    pass


class OneSlow(Channel[Nothing]):
    """A provider that answers every request at once but the first, which waits for `go`."""

    name = "one_slow"
    settings_model = Nothing
    capabilities = Capabilities(audience=Audience.person)

    def __init__(self) -> None:
        super().__init__(Nothing())
        self.go = asyncio.Event()

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        return [result async for result in self.send_stream(items)]

    async def send_stream(
        self, items: Sequence[SendItem], gate: SendGate | None = None
    ) -> AsyncIterator[SendResult]:
        for item in items[1:]:
            assert gate is None or gate.allow() == 0
            yield SendResult(item.key, Outcome.accepted, provider_id=f"SM{item.key}")
        assert gate is None or gate.allow() == 0
        await self.go.wait()
        yield SendResult(items[0].key, Outcome.accepted, provider_id=f"SM{items[0].key}")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def states(db: Database) -> dict[int, DeliveryState]:
    with db.read() as session:
        return dict(session.execute(select(Delivery.id, Delivery.state)).all())


def wait_for(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_one_hanging_request_holds_up_only_itself(
    db: Database, settings: Settings, loop: asyncio.AbstractEventLoop
) -> None:
    _, lease = leased(db, settings, households=6, lease_seconds=3)
    slow, quick = lease.items[0].id, [c.id for c in lease.items[1:]]
    items = [SendItem(c.id, c.address, "水位超警戒") for c in lease.items]
    channel = OneSlow()
    recorder = Recorder(db, loop, lease_seconds=3)
    try:
        recorder.open(lease.token, len(items))
        recorder.submit(lease.token, channel, items, Breaker(BreakerSettings()))
        stats = recorder.wait(lease.token, all_of_it=False)  # every request went out
        wait_for(lambda: all(states(db)[d] is S.sent for d in quick))
        assert states(db)[slow] is S.sending  # still out, still leased
        time.sleep(4)  # longer than the lease: the heartbeat keeps it
        with db.transaction() as session:
            assert expire_leases(session, utcnow()) == 0
        loop.call_soon_threadsafe(channel.go.set)
        wait_for(lambda: states(db)[slow] is S.sent)
        assert recorder.backlog() == 0
    finally:
        recorder.close()
    assert stats.lease_lost == 0


def test_a_lease_is_kept_while_its_job_prepares_the_sends(
    db: Database, settings: Settings, loop: asyncio.AbstractEventLoop
) -> None:
    """Between the claim and the first send (building, admitting) the heartbeat keeps the
    lease; once the job is done with it, nothing keeps it any more."""
    _, lease = leased(db, settings, households=1, lease_seconds=3)
    recorder = Recorder(db, loop, lease_seconds=3)
    try:
        with recorder.keeping(lease.token):
            time.sleep(4)  # a slow start, longer than the lease
            with db.transaction() as session:
                assert expire_leases(session, utcnow()) == 0
        assert recorder.backlog() == 0  # left with the job: it is not renewed any more
    finally:
        recorder.close()


class AsksForBreakers(OneSlow):
    """A channel whose opening, on the channel loop, asks the runtime for a breaker — as a
    batch's gate does while the job thread opens the next provider's channel (failover)."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__()
        self.rt = rt

    async def open(self) -> None:
        self.rt.breaker("sms_other", drill=False)


def test_opening_a_channel_never_blocks_the_loop_that_asks_for_breakers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = Runtime(settings)
    channel = AsksForBreakers(rt)
    monkeypatch.setattr(runtime_module, "build_channel", lambda *_a, **_k: channel)
    opened = threading.Thread(target=rt.channel, args=("sms_other",), kwargs={"drill": False})
    try:
        opened.start()
        opened.join(timeout=10)
        assert not opened.is_alive()  # no deadlock between the job thread and the loop
        assert rt.channel("sms_other", drill=False) is channel  # opened once, kept
    finally:
        if not opened.is_alive():
            rt.close()


class Timed(OneSlow):
    """A provider that notes when each request reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: dict[int, float] = {}

    async def send_stream(
        self, items: Sequence[SendItem], gate: SendGate | None = None
    ) -> AsyncIterator[SendResult]:
        for item in items:
            self.sent_at[item.key] = time.monotonic()
            yield SendResult(item.key, Outcome.accepted, provider_id=f"SM{item.key}")


def test_a_stalled_loop_sends_its_backlog_at_the_rate(
    db: Database, settings: Settings, loop: asyncio.AbstractEventLoop
) -> None:
    _, lease = leased(db, settings, households=4, lease_seconds=30)
    items = [SendItem(c.id, c.address, "水位超警戒") for c in lease.items]
    first, second = items[:2], items[2:]
    channel = Timed()
    recorder = Recorder(db, loop, lease_seconds=30)
    try:
        recorder.open(lease.token, len(items))
        stalled = threading.Event()
        loop.call_soon_threadsafe(lambda: (stalled.set(), time.sleep(1.0)))  # the loop stalls
        stalled.wait(5)
        handed = time.monotonic()
        breaker, pace = Breaker(BreakerSettings()), Pace("live:k", rate=4.0, burst=2.0)
        recorder.submit(lease.token, channel, first, breaker, pace=pace)  # granted at once,
        recorder.submit(lease.token, channel, second, breaker, pace=pace)  # 0.5 s later
        recorder.wait(lease.token, all_of_it=True)
    finally:
        recorder.close()
    first_left = max(channel.sent_at[i.key] for i in first)
    second_left = min(channel.sent_at[i.key] for i in second)
    assert first_left >= handed + 0.5  # both reached the loop only after the stall
    assert second_left - first_left >= 0.49  # 2 sends at 4/s: never back to back
