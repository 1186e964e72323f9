"""Bounded chaos: Redis killed and back empty, database connections killed, mid-fan-out; no
household missed, none doubled, everything final again, no 5xx, no process died."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from broadcaster.bench.chaos import ChaosOptions, run_scenario
from broadcaster.bench.scratch import scratch_database
from tests.conftest import PG_URL, REQUIRE_PG, pg_unavailable_reason

pytestmark = pytest.mark.integration
HOUSEHOLDS = 200
RECOVERY_BOUND_S = 90.0  # generous: the machine is shared; the README has the real figures
OPTIONS = ChaosOptions(
    households=HOUSEHOLDS,
    workers=2,
    rate_per_second=100.0,
    fault_at=0.2,
    down_seconds=3.0,
    settle_timeout=150.0,
    delivery={"lease_seconds": "10", "unknown_grace_seconds": "2", "reconcile_every_seconds": "1"},
)


def _database(dialect: str, tmp_path: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'chaos.db'}"
    reason = pg_unavailable_reason()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    return PG_URL


@pytest.mark.parametrize(
    ("scenario", "dialect"),
    [("redis-kill", "sqlite"), ("db-kill", "sqlite"), ("db-kill", "postgresql")],
)
def test_nothing_is_lost_or_doubled_and_everything_recovers(
    scenario: str, dialect: str, tmp_path: Path
) -> None:
    notes: list[str] = []
    with scratch_database(_database(dialect, tmp_path), HOUSEHOLDS, notes.append) as scratch:
        figures: dict[str, Any] = run_scenario(scenario, OPTIONS, scratch, notes.append)
    summary = f"{figures} / {notes}"
    assert figures["deliveries"] > HOUSEHOLDS, summary
    assert figures["missed"] == 0, summary
    assert figures["duplicates"] == 0, summary
    assert figures["recovery_s"] is not None, summary
    assert figures["recovery_s"] <= RECOVERY_BOUND_S, summary
    assert figures["client_5xx"] == 0, summary
    assert figures["service_died"] == [], summary
    assert figures["restarted"] == [], summary
    if scenario == "db-kill":  # the fault did strike
        assert figures.get("connections_killed" if dialect == "postgresql" else "locked_s"), summary
    if scenario == "redis-kill":  # resumed by the kick when Redis came back, not a later tick
        logs = "".join(p.read_text(errors="replace") for p in Path(figures["logs"]).glob("*.log"))
        assert "Redis is back; ticks fired at once: reconcile" in logs, summary
