"""A provider that answers look-ups slowly cannot hold the reconciler tick (and with it a
worker, while a fan-out waits behind it) past its budget: look-ups go a few at a time, the
budget is checked between them, and what was not asked stays due for the next tick."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery import runtime as runtime_module
from broadcaster.delivery.models import Delivery
from broadcaster.delivery.reconciler import LOOKUP_CHUNK, TickReport, resolve_unknown
from broadcaster.delivery.runtime import Runtime
from broadcaster.settings import Settings
from channels.base import (
    Audience,
    Capabilities,
    Channel,
    LookupItem,
    LookupResult,
    Outcome,
    ProviderState,
    SendItem,
    SendResult,
)
from tests.integration.ledger_support import leased, record

HOUSEHOLDS = 100
EACH = 0.1  # seconds a look-up takes: a chunk takes 2 s, the budget is 1 s


class Nothing(BaseModel):
    pass


class SlowLookups(Channel[Nothing]):
    """A provider whose look-ups take EACH seconds apiece; it has every message, sent."""

    name = "slow_lookups"
    settings_model = Nothing
    capabilities = Capabilities(audience=Audience.person)

    def __init__(self) -> None:
        super().__init__(Nothing())
        self.asked: list[int] = []

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        raise AssertionError("the reconciler only looks up")

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        found = []
        for item in items:
            await asyncio.sleep(EACH)
            self.asked.append(item.key)
            found.append(LookupResult(item.key, True, f"SM{item.key}", ProviderState.sent))
        return found


def test_slow_lookups_stop_at_the_budget_and_resume_next_tick(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = settings.delivery.model_copy(update={"lookup_budget_seconds": 1.0})
    settings = settings.model_copy(update={"delivery": delivery, "database_url": db.url})
    _, lease = leased(db, settings, households=HOUSEHOLDS)
    record(
        db,
        lease.token,
        *(SendResult(c.id, Outcome.unknown, error_code="timeout") for c in lease.items),
    )
    channel = SlowLookups()
    monkeypatch.setattr(runtime_module, "build_channel", lambda *_a, **_k: channel)
    rt = Runtime(settings)
    later = utcnow() + dt.timedelta(hours=1)  # every unknown is past its grace
    try:
        resolve_unknown(rt, later, TickReport())
        first = len(channel.asked)
        resolve_unknown(rt, later, TickReport())
    finally:
        rt.close()
    assert first == LOOKUP_CHUNK  # one chunk ran past the budget: the tick stopped there
    assert len(channel.asked) == 2 * LOOKUP_CHUNK  # the next tick asked the next ones
    assert len(set(channel.asked)) == len(channel.asked)  # none asked twice
    with db.read() as session:
        checked = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.checked_at.is_not(None))
        )
    assert checked == 2 * LOOKUP_CHUNK < HOUSEHOLDS
