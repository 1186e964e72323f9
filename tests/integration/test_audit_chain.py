"""The audit log is a hash chain: an edited, deleted or re-linked row is found and named."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, select, text, update
from typer.testing import CliRunner

from broadcaster.auth.audit import SYSTEM, Actor, record
from broadcaster.auth.chain import GENESIS, hash_of, verify
from broadcaster.auth.models import AuditEvent
from broadcaster.cli import app
from broadcaster.db.database import Database
from broadcaster.settings import get_settings


def _write(db: Database, n: int) -> list[int]:
    ids = []
    for i in range(n):
        with db.transaction() as session:
            event = record(
                session,
                actor=Actor("user:li", "10.0.0.1"),
                action="alert.issue",
                object_type="alert",
                object_id=i,
                headline=f"暴雨红色预警 {i}",
                n=i,
            )
            session.flush()
            ids.append(event.id)
    return ids


def test_rows_are_chained_in_commit_order(db: Database) -> None:
    _write(db, 3)
    with db.transaction() as session:  # two events in one transaction, and a savepoint
        record(session, actor=SYSTEM, action="a.one")
        with session.begin_nested():
            record(session, actor=SYSTEM, action="a.two")
    with db.read() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        verdict = verify(session)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert verdict.problems == []
    assert verdict.rows == 5
    assert verdict.head_hash == rows[-1].hash


def test_rolled_back_events_leave_no_gap(db: Database) -> None:
    _write(db, 1)
    try:
        with db.transaction() as session:
            record(session, actor=SYSTEM, action="doomed")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    _write(db, 1)
    with db.read() as session:
        assert verify(session).problems == []


def test_edited_row_is_named(db: Database) -> None:
    ids = _write(db, 4)
    with db.transaction() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == ids[1]).values(actor="user:someone-else")
        )
    with db.read() as session:
        problems = verify(session).problems
    assert [(p.kind, p.row_id) for p in problems] == [("edited", ids[1])]
    assert f"row id {ids[1]}" in problems[0].text


def test_edited_detail_is_named(db: Database) -> None:
    ids = _write(db, 3)
    with db.engine.begin() as connection:  # as someone with database access would
        connection.execute(
            text("UPDATE audit_events SET detail = :d WHERE id = :i"),
            {"d": '{"headline": "forged", "n": 0}', "i": ids[0]},
        )
    with db.read() as session:
        assert [(p.kind, p.row_id) for p in verify(session).problems] == [("edited", ids[0])]


def test_deleted_row_shows_as_a_gap(db: Database) -> None:
    ids = _write(db, 5)
    with db.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[2]))
    with db.read() as session:
        problems = verify(session).problems
    assert [(p.kind, p.row_id) for p in problems] == [("missing", ids[3])]
    assert "seq 3" in problems[0].text
    assert f"after row id {ids[1]}" in problems[0].text


def test_rehashed_forgery_still_breaks_the_next_link(db: Database) -> None:
    """Editing a row and recomputing its own hash is not enough: the next row names it."""
    ids = _write(db, 3)
    with db.transaction() as session:
        row = session.get(AuditEvent, ids[1])
        assert row is not None
        assert row.seq is not None
        assert row.prev_hash is not None
        row.actor = "user:forger"
        row.hash = hash_of(row, row.seq, row.prev_hash)
    with db.read() as session:
        assert [(p.kind, p.row_id) for p in verify(session).problems] == [("relinked", ids[2])]


def test_concurrent_appends_keep_one_chain(db: Database) -> None:
    """Writers in parallel (PostgreSQL: separate connections) still make one unbroken chain."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _write(db, 8), range(4)))
    with db.read() as session:
        verdict = verify(session)
    assert verdict.problems == []
    assert verdict.rows == 32


def test_cli_verify_exit_codes(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTER_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        ids = _write(db, 3)
        runner = CliRunner()
        good = runner.invoke(app, ["audit", "verify"])
        assert good.exit_code == 0, good.output
        assert "3 audit rows" in good.output
        with db.transaction() as session:
            session.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
        bad = runner.invoke(app, ["audit", "verify"])
        assert bad.exit_code == 1
        assert f"row id {ids[2]}" in bad.output
        assert "seq 2" in bad.output
    finally:
        get_settings.cache_clear()


def test_secret_command_prints_a_strong_key() -> None:
    result = CliRunner().invoke(app, ["secret"])
    key = result.output.strip()
    assert result.exit_code == 0
    assert len(key) >= 43
