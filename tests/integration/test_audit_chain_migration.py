"""Migration 0011 chains the audit rows written before it, and can be undone."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from broadcaster.auth.chain import GENESIS, verify
from broadcaster.db.database import Database
from broadcaster.db.engine import make_engine
from broadcaster.db.migrate import downgrade, upgrade
from tests.conftest import _drop_pg_schema, _pg_schema_url, pg_unavailable_reason


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each backend, for migrating step by step."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
        db = Database(url, make_engine(url))
        yield db
        db.dispose()
        return
    reason = pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    schema = f"bm_{os.getpid()}_{secrets.token_hex(3)}"
    db = Database(_pg_schema_url(schema))
    yield db
    db.dispose()
    _drop_pg_schema(schema)


def test_existing_rows_are_chained(blank_db: Database) -> None:
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
