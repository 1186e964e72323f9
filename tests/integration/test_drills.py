"""Drills (exercise/test alerts) are marked as drills and never reach a real provider."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import Stack, running_stack, wait_until


def seed(db: Database, households: int = 6) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(households):
            f.household(session, grid=zones["G1"])


def delivery_states(db: Database, alert_id: int) -> list[DeliveryState]:
    with db.read() as session:
        return list(session.scalars(select(Delivery.state).where(Delivery.alert_id == alert_id)))


def issue(stack: Stack, status: str) -> int:
    with stack.client() as api:
        answer = api.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"], "status": status})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_exercise_goes_to_the_simulator_only_and_actual_to_the_provider(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    with running_stack(db, redis_settings, tmp_path / "s", real_provider=True) as stack:
        assert stack.real is not None
        stack.start_worker()
        drill = issue(stack, "exercise")
        wait_until(lambda: set(delivery_states(db, drill)) == {DeliveryState.delivered})
        test = issue(stack, "test")
        wait_until(lambda: set(delivery_states(db, test)) == {DeliveryState.delivered})
        assert len(stack.real.store.messages) == 0
        drill_texts = [m.body for m in stack.sim_messages()]
        assert len(drill_texts) == 12
        assert all(text.startswith("【演练】") for text in drill_texts)
        actual = issue(stack, "actual")
        wait_until(lambda: set(delivery_states(db, actual)) == {DeliveryState.delivered})
        real_texts = [m.body for m in stack.real.store.messages.values()]
        assert len(real_texts) == 6
        assert not any("演练" in text for text in real_texts)
        assert len(stack.sim_messages()) == 12


def test_drill_without_a_simulator_fails_instead_of_sending(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    with running_stack(
        db, redis_settings, tmp_path / "s", real_provider=True, drill_simulator=False
    ) as stack:
        assert stack.real is not None
        stack.start_worker()
        drill = issue(stack, "exercise")
        wait_until(lambda: set(delivery_states(db, drill)) == {DeliveryState.failed})
        with db.read() as session:
            codes = set(session.scalars(select(Delivery.error_code)))
        assert codes == {"drill_without_simulator"}
        assert len(stack.real.store.messages) == 0
        assert len(stack.sim_messages()) == 0
