"""Planner statistics that keep pace with a fan-out (PostgreSQL): the tables it grows are
sampled again once a share of their rows changed since the last sample.

Autovacuum does this too, but late for a fan-out and sometimes not at all: it waits for a
tenth of a table to change, visits each database once a minute, and can be off (this
project's test server runs without it). A table that grew from nothing keeps the
statistics of an empty one; the planner then takes `delivery_id = ?` for 0.5 % of the
attempts and answers each batch of status callbacks with a scan of every attempt — a
million-household run kept 120-200 deliveries a second reported delivered while the
attempts grew (the issue-19 run, 2026-12-07). ANALYZE samples 30,000 rows whatever the
table's size (tenths of a second) and blocks no reader or writer."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from broadcaster.db.database import refresh_statistics

log = logging.getLogger(__name__)

# The tables a fan-out and its answers grow or churn
GROWING = ("deliveries", "delivery_attempts", "recipients", "alert_tallies", "visit_tasks")
STALE_SHARE = 0.2  # sampled again once this share of the rows changed since the last sample
STALE_MIN_ROWS = 1000  # and at least this many
_STALE = text(
    "SELECT relname FROM pg_stat_user_tables "
    "WHERE schemaname = current_schema() AND relname = ANY(:tables) "
    "AND n_mod_since_analyze > :least + :share * n_live_tup ORDER BY relname"
)


def stale_tables(session: Session, tables: tuple[str, ...] = GROWING) -> list[str]:
    """The tables (of `tables`) whose statistics describe too few of their rows."""
    params = {"tables": list(tables), "least": STALE_MIN_ROWS, "share": STALE_SHARE}
    return list(session.scalars(_STALE, params))


def refresh_stale(session: Session, tables: tuple[str, ...] = GROWING) -> list[str]:
    """Sample the stale tables again (PostgreSQL; elsewhere nothing); the ones sampled. A
    table another process is sampling or vacuuming is left for the next time."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    sampled = []
    for table in stale_tables(session, tables):
        try:
            with session.begin_nested():
                session.execute(text("SET LOCAL lock_timeout = '1s'"))
                refresh_statistics(session, table)
        except OperationalError as exc:
            log.info("statistics of %s not refreshed now: %s", table, exc.orig)
            continue
        sampled.append(table)
    return sampled
