"""Shared fixtures: a database per backend (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from broadcaster.db.database import Database
from broadcaster.db.engine import make_engine
from broadcaster.db.migrate import upgrade
from broadcaster.tables import Base

pytest_plugins = ["tests.api_fixtures", "tests.redis_fixtures"]

PG_URL = os.environ.get(
    "BROADCASTER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("BROADCASTER_TEST_REQUIRE_PG") == "1"
_pg_state: dict[str, str | None] = {}
_pg_schema = f"bt_{os.getpid()}_{secrets.token_hex(3)}"  # this process's PostgreSQL schema


def pg_unavailable_reason() -> str | None:
    """None when PostgreSQL answers at PG_URL, else why not (checked once)."""
    if "reason" not in _pg_state:
        try:
            engine = make_engine(PG_URL, pool_size=1, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:
            _pg_state["reason"] = f"PostgreSQL at {PG_URL} unreachable: {exc!s:.200}"
    return _pg_state["reason"]


# The files that take longest (a full run's --durations, 2026-12-07), longest first. They
# are collected first, so that pytest-xdist starts them at once on different processes
# instead of finding one of them last, alone, while the other processes sit idle.
SLOW_FIRST = (
    "test_crash_safety.py",
    "test_sms_failover.py",
    "test_bench_smoke.py",
    "test_multichannel.py",
    "test_followup_e2e.py",
    "test_chaos.py",
    "test_delivery_faults.py",
    "test_addressing_e2e.py",
    "test_voice_aliyun_e2e.py",
    "test_tencent_sms_e2e.py",
    "test_relay_mainland.py",
    "test_worker_redis_outage.py",
    "test_api_fuzz.py",
    "test_alert_lifecycle_e2e.py",
    "test_aliyun_sms_e2e.py",
    "test_drills.py",
    "test_operator_delivered.py",
    "test_demo_providers.py",
    "test_number_limits.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow files first (a stable sort: every other test keeps its place)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, hand this worker's PostgreSQL finding to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and "reason" in _pg_state:
        workeroutput["pg_reason"] = _pg_state["reason"] or ""


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Controller side of pytest_sessionfinish: any worker that tried PostgreSQL reports."""
    reported = getattr(node, "workeroutput", {}).get("pg_reason")
    if reported is not None and _pg_state.get("reason") is None:
        _pg_state["reason"] = reported or None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reason = _pg_state.get("reason")
    if "reason" in _pg_state and reason:
        terminalreporter.write_line(f"POSTGRESQL TESTS DID NOT RUN: {reason}", red=True)
    elif "reason" in _pg_state:
        terminalreporter.write_line("PostgreSQL tests ran against " + PG_URL)


def _pg_schema_url(schema: str) -> str:
    """PG_URL with the schema as search_path, so worker processes can connect too."""
    admin = make_engine(PG_URL, pool_size=1)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


def _drop_pg_schema(schema: str) -> None:
    admin = make_engine(PG_URL, pool_size=1)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Database]]:
    """This process's migrated databases, one per backend, made on first use.

    `migrated_db` is parametrized, so pytest tears it down whenever the backend changes
    between tests (with pytest-xdist that is dozens of times per process); the databases
    live here instead, so each is migrated once per process.
    """
    made: dict[str, Database] = {}
    yield made
    for db in made.values():
        db.dispose()
    if "postgresql" in made:
        _drop_pg_schema(_pg_schema)


def _migrate(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Database:
    if backend == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "test.db"
        url = f"sqlite:///{path}"
        db = Database(url, make_engine(url))
    else:
        db = Database(_pg_schema_url(_pg_schema))
    upgrade(db.engine)
    return db


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_db(
    request: pytest.FixtureRequest,
    _migrated: dict[str, Database],
    tmp_path_factory: pytest.TempPathFactory,
) -> Database:
    """A migrated database per backend, shared by the session's tests."""
    if request.param == "postgresql":
        reason = pg_unavailable_reason()
        if reason:
            if REQUIRE_PG:
                pytest.fail(reason + " (BROADCASTER_TEST_REQUIRE_PG=1)")
            pytest.skip(reason)
    if request.param not in _migrated:
        _migrated[request.param] = _migrate(request.param, tmp_path_factory)
    return _migrated[request.param]


_tables: dict[str, list[str]] = {}
# Above this many rows a table is emptied with TRUNCATE; below, DELETE is ~20x cheaper on
# PostgreSQL (TRUNCATE makes new files for the table and each of its indexes).
_DELETE_AT_MOST = 1000
_RESET_SEQUENCES = """
SELECT setval(s.oid, 1, false) FROM pg_class s
JOIN pg_namespace n ON n.oid = s.relnamespace
WHERE s.relkind = 'S' AND n.nspname = current_schema()
"""


def _table_names(db: Database) -> list[str]:
    """The database's tables, children before parents (looked up once per database)."""
    if db.url not in _tables:
        existing = set(inspect(db.engine).get_table_names())
        ordered = reversed(Base.metadata.sorted_tables)
        _tables[db.url] = [t.name for t in ordered if t.name in existing]
    return _tables[db.url]


def truncate_all(db: Database) -> None:
    """Empty every table, keeping the schema; PostgreSQL's sequences start again at 1."""
    tables = _table_names(db)
    if db.dialect == "postgresql":
        _empty_pg(db, tables)
        return
    # Without foreign-key checks: a self-reference with no index (deliveries.resend_of)
    # makes each deleted row scan the whole table, minutes after a 10,000-household run.
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection  # outside any transaction
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                for table in tables:
                    connection.execute(text(f'DELETE FROM "{table}"'))
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def _empty_pg(db: Database, tables: list[str]) -> None:
    """DELETE the few rows a test left; TRUNCATE everything when a table holds many."""
    limit = _DELETE_AT_MOST + 1
    probe = " UNION ALL ".join(
        f"SELECT '{t}', (SELECT count(*) FROM (SELECT 1 FROM \"{t}\" LIMIT {limit}) x)"
        for t in tables
    )
    with db.engine.begin() as connection:
        rows = {name: int(n) for name, n in connection.execute(text(probe))}
        if any(n > _DELETE_AT_MOST for n in rows.values()):
            names = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        for table in tables:  # children first
            if rows[table]:
                connection.execute(text(f'DELETE FROM "{table}"'))
        connection.execute(text(_RESET_SEQUENCES))


@pytest.fixture
def db(migrated_db: Database) -> Database:
    """An empty, migrated database on each backend."""
    truncate_all(migrated_db)
    return migrated_db
