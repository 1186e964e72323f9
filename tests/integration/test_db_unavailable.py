"""A lost or busy database is a 503 with Retry-After, never a 500; killed connections reconnect."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from broadcaster.app import create_app
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.db.retry import is_transient, retrying
from broadcaster.settings import Settings
from tests.api_fixtures import auth

pytestmark = pytest.mark.integration
DEAD_PG = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"


def test_an_unreachable_database_is_a_503_with_retry_after(settings: Settings) -> None:
    with TestClient(create_app(settings, Database(DEAD_PG)), raise_server_exceptions=False) as c:
        answer = c.get("/api/v1/alerts", headers=auth("bk_whatever_0123456789"))
        ready = c.get("/readyz")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "2"
    assert answer.json()["error"] == "unavailable"
    assert ready.status_code == 503


def test_killed_connections_reconnect(db: Database, role_keys: dict[Role, str]) -> None:
    if db.dialect != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    app_db = Database(db.url)
    with TestClient(create_app(Settings(env="test"), app_db)) as client:
        headers = auth(role_keys[Role.officer])
        assert client.get("/api/v1/alerts", headers=headers).status_code == 200
        with app_db.engine.connect() as connection:  # the app's pooled connection, by pid
            pids = [connection.connection.driver_connection.info.backend_pid]  # type: ignore[union-attr]
        with db.engine.begin() as admin:
            for pid in pids:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(3):  # pre-ping finds the dead connection and opens a new one
            assert client.get("/api/v1/alerts", headers=headers).status_code == 200
    app_db.dispose()


def test_sqlite_busy_is_transient_and_retried(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    attempts: list[int] = []

    def write() -> None:
        attempts.append(1)
        if len(attempts) == 2:
            holder.execute("COMMIT")  # the lock goes away before the second try
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))

    with pytest.raises(OperationalError) as locked, engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (0)"))
    assert is_transient(locked.value)
    retrying(write, what="test", first_wait=0.01)
    assert len(attempts) == 2
    with engine.connect() as connection:
        assert connection.execute(text("SELECT x FROM t")).scalars().all() == [1]
        with pytest.raises(OperationalError) as missing:  # no such table: not transient
            connection.execute(text("SELECT * FROM nope"))
    assert not is_transient(missing.value)
    engine.dispose()
    holder.close()
