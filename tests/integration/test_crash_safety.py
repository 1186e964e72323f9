"""Crash safety: a 10,000-household fan-out survives repeated SIGKILLs of its workers and a
Redis FLUSHALL; no household is missed and duplicates stay within the number of kills."""

from __future__ import annotations

import random
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import exists, func, select

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.redis_embedded import EmbeddedRedis
from broadcaster.sample.district import generate_district
from broadcaster.settings import Settings
from tests.factories.alerts import RED_RAIN
from tests.stack import Stack, running_stack, wait_until

HOUSEHOLDS = 10_000
KILLS = 12
FLUSH_AT_KILL = 5


@pytest.fixture
def private_redis() -> Iterator[str]:
    """A Redis of this test alone: it is flushed mid-run."""
    directory = Path(tempfile.mkdtemp(prefix="bt-crash-", dir="/tmp"))
    try:
        with EmbeddedRedis(directory) as server:
            yield server.url
    finally:
        shutil.rmtree(directory, ignore_errors=True)


HAS_SMS = exists().where(
    Delivery.recipient_id == Recipient.id,
    Delivery.channel == "sms",
    Delivery.person_id.is_not(None),  # a member's own mobile, not a proxy's
)


def households_missed(db: Database) -> int:
    """Households with a mobile phone that no SMS reached (landline-only and phoneless
    households have no SMS of their own: they are called or visited, counted apart)."""
    with db.read() as session:
        missed = session.scalar(
            select(func.count())
            .select_from(Recipient)
            .where(Recipient.state == RecipientState.pending, HAS_SMS)
        )
    return int(missed or 0)


def households_without_sms(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Recipient).where(~HAS_SMS)) or 0)


def deliveries_open(db: Database) -> int:
    open_states = (DeliveryState.queued, DeliveryState.sending, DeliveryState.unknown)
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state.in_(open_states))
            )
            or 0
        )


def kill_and_replace(stack: Stack, rng: random.Random) -> None:
    alive = [p for p in stack.workers if p.poll() is None]
    victim = rng.choice(alive)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    stack.start_worker()


# Its own wait for the recovery (600 s) fails first, with its message. In the full suite it took
# 177, 199 and 223 s on PostgreSQL (90 s alone): a stack starved by three others beside it.
@pytest.mark.timeout(900)
def test_fanout_survives_sigkills_and_a_redis_flush(
    db: Database, redis_settings: Settings, private_redis: str, tmp_path: Path
) -> None:
    generate_district(db, households=HOUSEHOLDS)
    own_redis = redis_settings.model_copy(update={"redis_url": private_redis})
    with (
        running_stack(db, own_redis, tmp_path / "stack", batch_size=200) as stack,
        stack.client() as api,
    ):
        answer = api.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["DEMO"]})
        assert answer.status_code == 201, answer.text
        alert_id = answer.json()["id"]
        targeted = answer.json()["households_targeted"]
        assert targeted == HOUSEHOLDS
        stack.start_worker()
        stack.start_worker()
        rng = random.Random(11)
        for kill in range(1, KILLS + 1):
            time.sleep(rng.uniform(0.4, 1.2))
            kill_and_replace(stack, rng)
            if kill == FLUSH_AT_KILL:
                redis.Redis.from_url(private_redis).flushall()
        wait_until(lambda: households_missed(db) == 0 and deliveries_open(db) == 0, timeout=600)
        counts = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
    per_text = Counter((m.to, m.body) for m in stack.sim_messages())
    duplicates = sum(n - 1 for n in per_text.values())
    missed = households_missed(db)
    print(
        f"\ncrash safety: kills={KILLS} flushes=1 households={targeted} missed={missed} "
        f"without_sms={households_without_sms(db)} "
        f"messages={sum(per_text.values())} duplicates={duplicates}"
    )
    assert missed == 0
    # every household with a mobile of its own was reached (the called and visited ones
    # may be reached too, or still ringing)
    without_sms = households_without_sms(db)
    assert counts["households_reached"] >= HOUSEHOLDS - without_sms
    # landline-only (about 3 %) and phoneless (about 2 %) households of the demo district
    assert without_sms < HOUSEHOLDS * 0.07
    assert duplicates <= KILLS
