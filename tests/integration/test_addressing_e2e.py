"""End to end, at every level, over a village with households on a mobile, on a landline only,
without any phone (with and without proxy contacts): nobody is left unaddressed, the landline
is called at once, the proxies texted and called, the phoneless visited; a "2" texts the
responsible worker and the village lead and opens a visit ahead of every other; one "1" from a
phone two households share confirms both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from broadcaster.alerts.models import Level, Recipient, RecipientState
from broadcaster.db.database import Database
from broadcaster.followup.models import VisitTask
from broadcaster.settings import Settings
from tests.integration.addressing_support import (
    LANDLINE,
    PROXY_LANDLINE,
    PROXY_MOBILE,
    SHARED,
    seed_village,
)
from tests.stack import Stack, running_stack, wait_until

CALLS = {"calls": {"auto_answer": True, "answer_after_ms": 0, "silence_after_ms": 100}}


def called(stack: Stack) -> set[str]:
    calls = httpx.get(f"{stack.sim_url}/api/calls?limit=100", timeout=30).json()["calls"]
    return {c["to"] for c in calls}


def texts_to(stack: Stack, phone: str) -> list[Any]:
    return [m for m in stack.sim_messages() if m.to == phone]


def states(db: Database, alert_id: int, households: tuple[int, ...]) -> set[RecipientState]:
    with db.read() as session:
        return set(
            session.scalars(
                select(Recipient.state).where(
                    Recipient.alert_id == alert_id, Recipient.household_id.in_(households)
                )
            )
        )


def visits(db: Database, alert_id: int) -> dict[int, VisitTask]:
    with db.read() as session:
        tasks = session.scalars(select(VisitTask).where(VisitTask.alert_id == alert_id)).all()
        session.expunge_all()
    return {t.household_id: t for t in tasks}


@pytest.mark.parametrize("level", list(Level))
def test_every_household_is_addressed_and_a_call_for_help_reaches_the_worker_and_the_lead(
    db: Database, redis_settings: Settings, tmp_path: Path, level: Level
) -> None:
    village = seed_village(db, shared_phone=True)
    alert = {
        "hazard": "rain",
        "level": level.value,
        "headline": "暴雨预警",
        "body": "预计未来3小时有强降雨。",
        "zones": ["V1"],
    }
    with (
        running_stack(db, redis_settings, tmp_path / "s", sim_config=CALLS) as stack,
        stack.client() as api,
    ):
        created = api.post("/api/v1/alerts", json=alert)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        def unaddressed() -> int:
            counts = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
            return int(counts["households_unaddressed"])

        wait_until(lambda: unaddressed() == 0, timeout=60)
        wait_until(lambda: {LANDLINE, PROXY_LANDLINE} <= called(stack))  # at t+0, not +10 min
        wait_until(lambda: len(texts_to(stack, PROXY_MOBILE)) == 1)
        tasks = visits(db, alert_id)
        assert village.proxied in tasks
        assert village.alone in tasks
        wait_until(lambda: len(texts_to(stack, "+8617407000000")) == 1)
        asking = texts_to(stack, "+8617407000000")
        replied = httpx.post(
            f"{stack.sim_url}/api/messages/{asking[0].sid}/reply", json={"body": "2"}, timeout=30
        )
        assert replied.status_code == 200, replied.text
        for helper in (village.worker_phone, village.lead_phone):
            wait_until(lambda helper=helper: len(texts_to(stack, helper)) == 1)
            assert "需要帮助" in texts_to(stack, helper)[0].body
        help_visit = visits(db, alert_id)[village.mobile[0]]
        assert help_visit.reason == "help"
        others = [t.priority for h, t in visits(db, alert_id).items() if h != village.mobile[0]]
        assert help_visit.priority < min(others)
        # one "1" from the phone two households share confirms both
        wait_until(lambda: len(texts_to(stack, SHARED)) >= 1)
        shared_sms = texts_to(stack, SHARED)[0]
        answered = httpx.post(
            f"{stack.sim_url}/api/messages/{shared_sms.sid}/reply", json={"body": "1"}, timeout=30
        )
        assert answered.status_code == 200, answered.text
        wait_until(lambda: states(db, alert_id, village.shared) == {RecipientState.confirmed})
        assert unaddressed() == 0
