"""Fan-out end to end: API → planning → RQ worker → real twilio client → simulator →
signed status callbacks → every household counted as reached."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from broadcaster.alerts.models import Recipient
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryAttempt
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.stack import running_stack, wait_until

ALERT = {
    "hazard": "rain",
    "level": "red",
    "headline": "暴雨红色预警",
    "body": "预计未来3小时降雨量将达100毫米以上。",
    "instruction": "请立即转移到安全地带。",
    "zones": ["V1"],
    "channels": ["sms"],
}


def seed_village(db: Database, households: int = 40) -> dict[str, int]:
    """A village of two grids; every fifth household vulnerable, one with two phones."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for n in range(households):
            grid = zones["G1"] if n % 2 else zones["G2"]
            f.household(
                session,
                grid=grid,
                vulnerability=("elderly_alone",) if n % 5 == 0 else (),
                phones=("+8617403000001", "+8617403000002") if n == 3 else (),
            )
        other_village = f.zone(session, code="V2", kind=zones["V1"].kind, parent=zones["T1"])
        other_grid = f.zone(session, code="G9", kind=zones["G1"].kind, parent=other_village)
        f.household(session, grid=other_grid)  # outside the alert's zone
    return {"households": households, "phones": households + 1, "vulnerable": households // 5}


def handed_off(db: Database, *, vulnerable: bool) -> list[dt.datetime]:
    """When each delivery of vulnerable (or other) households was first leased for sending,
    from the attempt log: the service's own record of its hand-off order, unlike the order in
    which requests happened to reach the simulator (a slow request of one batch may land
    after the next batch's first ones)."""
    with db.read() as session:
        return list(
            session.scalars(
                select(DeliveryAttempt.requested_at)
                .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(DeliveryAttempt.number == 1, Recipient.is_vulnerable.is_(vulnerable))
            )
        )


def test_alert_reaches_every_household_of_the_village(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    expected = seed_village(db)
    stack_ctx = running_stack(
        db, redis_settings, tmp_path / "stack", batch_size=expected["vulnerable"]
    )
    with stack_ctx as stack, stack.client() as api:
        created = api.post("/api/v1/alerts", json=ALERT, headers={"Idempotency-Key": "k1"})
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        def all_reached() -> bool:
            counts = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
            return counts["households_reached"] == expected["households"]

        wait_until(all_reached, timeout=90)
        counts = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
        assert counts["households_targeted"] == expected["households"]
        assert counts["households_pending"] == 0
        assert counts["deliveries"]["sms"]["by_state"] == {"delivered": expected["phones"]}
        messages = stack.sim_messages()
        assert len(messages) == expected["phones"]
        assert len({m.to for m in messages}) == expected["phones"]
        assert all("暴雨红色预警" in m.body and "/c/" in m.body for m in messages)
        assert len({m.body for m in messages}) == expected["phones"]  # each text is personal
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(Delivery)) == expected["phones"]
    vulnerable, others = handed_off(db, vulnerable=True), handed_off(db, vulnerable=False)
    assert (len(vulnerable), len(others)) == (
        expected["vulnerable"],
        expected["phones"] - expected["vulnerable"],
    )
    # Every vulnerable household's delivery was leased (a batch is as big as the vulnerable
    # share) and so handed to the provider before any other household's.
    assert max(vulnerable) < min(others)
