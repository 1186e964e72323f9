"""Vulnerable first (DESIGN §3.7): a recipient's priority orders by alert level, then the
vulnerable household, then the highest risk of its hazard zones (capped at 9), then the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.alerts.models import Recipient
from broadcaster.db.database import Database
from broadcaster.delivery.planning import LEVEL_WEIGHT, MAX_RISK, VULNERABLE_WEIGHT
from broadcaster.registry.models import HazardType, ZoneKind
from broadcaster.settings import Settings
from channels.registry import media
from tests.factories import alerts as fa
from tests.factories import registry as f

FLOOD = HazardType.flash_flood


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", data_dir=tmp_path / "var", public_base_url="http://testserver")


def test_priority_orders_level_vulnerable_then_zone_risk(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        steep = f.zone(
            session, code="H2", kind=ZoneKind.hazard, hazard_type=FLOOD, name="高危区", risk=12
        )
        grid = zones["G1"]
        codes = {
            "frail_steep": f.household(
                session, grid=grid, vulnerability=("elderly",), hazard_zones=(zones["H1"], steep)
            ),
            "frail": f.household(session, grid=grid, vulnerability=("elderly",)),
            "steep": f.household(session, grid=grid, hazard_zones=(steep,)),
            "risky": f.household(session, grid=grid, hazard_zones=(zones["H1"],)),
            "plain": f.household(session, grid=grid),
        }
        ids = {name: household.id for name, household in codes.items()}
    alert_id = fa.issue(
        db, settings, zones=["V1"], level="red", channels=None, available=set(media())
    ).alert.id
    with db.read() as session:
        rows = session.execute(
            select(Recipient.household_id, Recipient.priority).where(Recipient.alert_id == alert_id)
        ).all()
    priority = {row.household_id: row.priority for row in rows}
    red = (4 - 4) * LEVEL_WEIGHT  # red ranks 4
    assert priority[ids["frail_steep"]] == red + 0 + (MAX_RISK - MAX_RISK)  # risk 12 capped to 9
    assert priority[ids["frail"]] == red + 0 + MAX_RISK
    assert priority[ids["steep"]] == red + VULNERABLE_WEIGHT + 0
    assert priority[ids["risky"]] == red + VULNERABLE_WEIGHT + (MAX_RISK - 3)
    assert priority[ids["plain"]] == red + VULNERABLE_WEIGHT + MAX_RISK
    order = sorted(ids, key=lambda name: priority[ids[name]])
    assert order == ["frail_steep", "frail", "steep", "risky", "plain"]
