"""Migration 0011 chains the audit rows written before it, and can be undone."""

from __future__ import annotations

from sqlalchemy import text

from broadcaster.auth.chain import GENESIS, verify
from broadcaster.db.database import Database
from broadcaster.db.migrate import downgrade, upgrade
from tests.integration.migration_support import blank_db  # noqa: F401 (fixture)


def test_existing_rows_are_chained(blank_db: Database) -> None:  # noqa: F811
    upgrade(blank_db.engine, "0010")
    with blank_db.engine.begin() as connection:
        for n in range(3):
            connection.execute(
                text(
                    "INSERT INTO audit_events (at, actor, action, object_type, object_id, detail)"
                    " VALUES (:at, 'user:li', 'alert.issue', 'alert', :id, :detail)"
                ),
                {"at": f"2026-11-30 0{n}:00:00.123456", "id": str(n), "detail": f'{{"n": {n}}}'},
            )
    upgrade(blank_db.engine)
    with blank_db.read() as session:
        verdict = verify(session)
        first = session.execute(
            text("SELECT seq, prev_hash FROM audit_events ORDER BY id LIMIT 1")
        ).one()
    assert verdict.problems == []
    assert verdict.rows == 3
    assert tuple(first) == (1, GENESIS)
    downgrade(blank_db.engine, "0010")
    upgrade(blank_db.engine)
