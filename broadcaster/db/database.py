"""The Database handle: one engine and session factory per process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, text
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.db.engine import make_engine, make_session_factory


class Database:
    """An engine with its session factory; `transaction()` is one unit of work."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        self.readers: sessionmaker[Session] = make_session_factory(
            self.engine.execution_options(deferred=True)
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A writing session: committed on success, rolled back on error.

        On SQLite it holds the database's write lock from its first statement to its end,
        so keep it inside one function call (never across an await or a response)."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def dry_run(self) -> Iterator[Session]:
        """A writing session that is always rolled back: to see what a change would do
        (previews), with the same code that makes it."""
        with self.sessions() as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it takes no write lock."""
        with self.readers() as session:
            yield session

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE/INSERT/DELETE touched (0 when the driver cannot tell)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def refresh_statistics(session: Session, *tables: str) -> None:
    """On PostgreSQL, sample `tables` again within the transaction: rows it just wrote in bulk
    (an alert's deliveries) are invisible to the planner's statistics until autovacuum runs,
    after the commit, and anti-joins over them degrade to nested loops (10,000 households:
    12 s instead of 0.1 s). Elsewhere nothing: SQLite plans without statistics, and where its
    guess walks a whole state or alert instead of a few keys, the query says so with
    `db.planner.unindexed` (`tests/integration/test_sqlite_plans.py` checks those plans)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:  # fixed internal names, never input
        session.execute(text(f"ANALYZE {table}"))
