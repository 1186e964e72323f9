"""The planner's statistics of the tables a fan-out grows are sampled again once a share of
their rows changed (PostgreSQL), whether or not autovacuum runs."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from broadcaster.db.database import Database
from broadcaster.db.statistics import STALE_MIN_ROWS, refresh_stale, stale_tables

LAST_SAMPLED = text(
    "SELECT last_analyze FROM pg_stat_user_tables "
    "WHERE schemaname = current_schema() AND relname = 'alert_tallies'"
)


def _grow_tallies(db: Database, rows: int) -> None:
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n) "
                "SELECT 1, 'delivery', 'sms', 'sent', g, 1 FROM generate_series(1, :rows) g"
            ),
            {"rows": rows},
        )
        session.execute(text("SELECT pg_stat_force_next_flush()"))  # counted at commit


@pytest.mark.parametrize("migrated_db", ["postgresql"], indirect=True)
def test_a_table_grown_since_its_last_sample_is_sampled_again(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text("ANALYZE alert_tallies"))
        sampled_before = session.scalar(LAST_SAMPLED)
    _grow_tallies(db, STALE_MIN_ROWS * 3)
    with db.transaction() as session:
        assert "alert_tallies" in stale_tables(session)
        assert "alert_tallies" in refresh_stale(session)
    with db.transaction() as session:
        assert "alert_tallies" not in stale_tables(session)
        assert session.scalar(LAST_SAMPLED) > sampled_before


@pytest.mark.parametrize("migrated_db", ["postgresql"], indirect=True)
def test_a_few_changes_leave_the_statistics_alone(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text("ANALYZE alert_tallies"))
    _grow_tallies(db, STALE_MIN_ROWS // 2)
    with db.transaction() as session:
        assert "alert_tallies" not in stale_tables(session)


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
def test_sqlite_has_nothing_to_sample(db: Database) -> None:
    with db.transaction() as session:
        assert refresh_stale(session) == []
