"""A large escalation step runs a chunk of households per transaction, the most urgent
priority first, each chunk committed before the next; every due household gets it once."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from broadcaster.alerts.models import Recipient
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.flows import escalation
from broadcaster.registry.models import Household
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

POLICY = """
[red]
channels = ["sms"]
steps = [{ after = "1m", channel = "voice" }, { after = "1h", visit = true }]
"""
VULNERABLE, OTHERS, CHUNK = 5, 6, 2


def _config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(PACKAGE_CONFIG_DIR / "templates", target / "templates")
    (target / "policies.toml").write_text(POLICY)
    return target


def _due_alert(db: Database, settings: Settings) -> int:
    """An alert whose households are all due their voice call: the others first in id order."""
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for _ in range(OTHERS):
            f.household(session, grid=grid)
        for _ in range(VULNERABLE):
            f.household(session, grid=grid, vulnerability=("elderly",))
    alert_id = fa.issue(db, settings, zones=["V1"], available={"sms", "voice"}).alert.id
    with db.transaction() as session:
        session.execute(
            update(Recipient)
            .where(Recipient.alert_id == alert_id)
            .values(next_action_at=utcnow() - dt.timedelta(seconds=1))
        )
    return alert_id


def _at_stage_one(db: Database, alert_id: int) -> int:
    with db.read() as session:
        query = select(func.count()).where(Recipient.alert_id == alert_id, Recipient.stage == 1)
        return int(session.scalar(query) or 0)


def test_a_step_runs_in_chunks_most_urgent_first_each_committed(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(update={"config_dir": _config(tmp_path)})
    alert_id = _due_alert(db, settings)
    monkeypatch.setattr(escalation, "CHUNK_HOUSEHOLDS", CHUNK)
    now = utcnow()

    groups = escalation.due_groups(db, now)
    assert [(a, s) for a, s, _ in groups] == [(alert_id, 0), (alert_id, 0)]
    chunks: list[dict[str, Any]] = []
    for _, stage, priority in groups:
        for _level, result in escalation.escalate_group(db, alert_id, stage, priority, now):
            chunks.append(result)
            # committed before the next chunk starts: a fresh read sees it
            assert _at_stage_one(db, alert_id) == sum(c["moved"] for c in chunks)

    assert len(chunks) == math.ceil(VULNERABLE / CHUNK) + math.ceil(OTHERS / CHUNK)
    assert all(c["households"] == c["moved"] == c["deliveries"] for c in chunks)
    assert [c["households"] for c in chunks] == [2, 2, 1, 2, 2, 2]
    assert {c["channel"] for c in chunks} == {"voice"}
    assert _at_stage_one(db, alert_id) == VULNERABLE + OTHERS
    assert escalation.due_groups(db, now) == []  # the next step is an hour on

    with db.read() as session:
        calls = session.execute(
            select(Delivery.id, Household.is_vulnerable)
            .join(Recipient, Recipient.id == Delivery.recipient_id)
            .join(Household, Household.id == Recipient.household_id)
            .where(Delivery.alert_id == alert_id, Delivery.channel == "voice")
            .order_by(Delivery.id)
        ).all()
    assert len({i for i, _ in calls}) == VULNERABLE + OTHERS  # one call each, none twice
    # the vulnerable households (made last) were called first
    assert [vulnerable for _, vulnerable in calls] == [True] * VULNERABLE + [False] * OTHERS
