"""Migration 0015 keeps every visit report (new evacuation columns empty) and can be undone."""

from __future__ import annotations

from sqlalchemy import inspect, text

from broadcaster.db.database import Database
from broadcaster.db.migrate import downgrade, upgrade
from tests.integration.test_audit_chain_migration import blank_db

__all__ = ["blank_db"]
ROWS = (
    "INSERT INTO zones (code, name, kind, path, risk, created_at, updated_at)"
    " VALUES ('G1', 'G1', 'grid', '/1/', 0, '2026-12-01', '2026-12-01')",
    "INSERT INTO households (code, head_name, address, grid_id, vulnerability, is_vulnerable,"
    " notes, created_at, updated_at) VALUES ('H1', 'h', 'a', 1, '[]', false, '', '2026-12-01',"
    " '2026-12-01')",
    "INSERT INTO alerts (identifier, sender, source, msg_type, status, hazard, level, headline,"
    " body, instruction, zone_codes, channels, policy, state, created_by, households_targeted,"
    " lease_lost, flagged, note, public, created_at, updated_at) VALUES ('A1', 's', 'officer',"
    " 'alert', 'actual', 'rain', 'red', 'h', 'b', '', '[]', '[]', '{}', 'active', 'u', 1, 0,"
    " false, '', false, '2026-12-01', '2026-12-01')",
    "INSERT INTO recipients (alert_id, household_id, state, priority, is_vulnerable, stage)"
    " VALUES (1, 1, 'visited', 0, false, 0)",
    "INSERT INTO visit_tasks (alert_id, recipient_id, household_id, priority, state, reason,"
    " created_at, flagged, notes) VALUES (1, 1, 1, 0, 'done', 'escalation', '2026-12-01',"
    " false, '')",
    "INSERT INTO visit_reports (task_id, outcome, notes, at, \"by\") VALUES (1, 'evacuated',"
    " '已转移', '2026-12-01 08:00:00', 'user:wang')",
)


def test_visit_reports_survive_up_and_down(blank_db: Database) -> None:
    upgrade(blank_db.engine, "0013")
    with blank_db.engine.begin() as connection:
        for row in ROWS:
            connection.execute(text(row))
    upgrade(blank_db.engine)
    with blank_db.engine.connect() as connection:
        kept = connection.execute(
            text(
                "SELECT notes, people_moved, placement, shelter_id, destination FROM visit_reports"
            )
        ).one()
    assert tuple(kept) == ("已转移", None, None, None, "")
    assert {"shelters", "duty_shifts", "handovers"} <= set(
        inspect(blank_db.engine).get_table_names()
    )
    downgrade(blank_db.engine, "0013")
    with blank_db.engine.connect() as connection:
        assert connection.execute(text("SELECT notes FROM visit_reports")).scalar() == "已转移"
    assert "shelters" not in inspect(blank_db.engine).get_table_names()
    upgrade(blank_db.engine)
