"""Fan-out end to end: API → planning → RQ worker → real twilio client → simulator →
signed status callbacks → every household counted as reached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rq.job import Job
from sqlalchemy import func, select

from broadcaster.alerts.models import Recipient
from broadcaster.db.database import Database
from broadcaster.delivery.dispatch import SEND_JOB
from broadcaster.delivery.models import Delivery
from broadcaster.queues import URGENT, connect, get_queue
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.stack import Stack, running_stack, wait_until

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


def leases(stack: Stack, alert_id: int) -> list[dict[str, Any]]:
    """What each send job of the alert leased (its result), in the order the worker took them:
    the service's own record of its hand-off order, unlike the order in which requests
    happened to reach the simulator (a slow request of one batch may land after the next
    batch's first ones)."""
    connection = connect(stack.settings.redis_url or "")
    try:
        registry = get_queue(URGENT, connection, stack.settings).finished_job_registry
        jobs = Job.fetch_many(registry.get_job_ids(), connection=connection)
        sends = [
            job
            for job in jobs
            if job is not None and job.func_name == SEND_JOB and job.args == (alert_id, "sms")
        ]
        sends.sort(key=lambda job: job.started_at or 0)
        results = [job.return_value() for job in sends]
    finally:
        connection.close()
    return [result for result in results if result and result["claimed"]]


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
        taken = leases(stack, alert_id)
        with db.transaction() as session:
            vulnerable = session.scalars(
                select(Delivery.priority)
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(Recipient.is_vulnerable.is_(True))
            ).all()
            others = session.scalars(
                select(Delivery.priority)
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(Recipient.is_vulnerable.is_(False))
            ).all()
            assert session.scalar(select(func.count()).select_from(Delivery)) == expected["phones"]
    assert len(vulnerable) == expected["vulnerable"]
    # Every vulnerable household's delivery is more urgent than any other (DESIGN §3.7) ...
    assert max(vulnerable) < min(others)
    # ... and the worker's first lease (a batch is as big as the vulnerable share) held
    # those deliveries and only those: they were handed to the provider before any other.
    first = taken[0]
    assert first["claimed"] == len(vulnerable)
    assert first["priorities"][1] <= max(vulnerable)
