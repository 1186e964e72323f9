"""Scratch databases: a fresh SQLite file (district copied from a cached template) or a
PostgreSQL schema of its own, dropped afterwards; plus their sizes."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from broadcaster.db.database import Database
from broadcaster.db.engine import make_engine
from broadcaster.db.migrate import MIGRATIONS_DIR, upgrade
from broadcaster.sample.district import DistrictSummary, generate_district

BENCH_DIR = Path("var/bench")
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
Progress = Callable[[str], None]


@dataclass
class Scratch:
    """A migrated database holding the generated district, ready for a measurement.

    `next_run()` gives each run a clean state: a new copy of the SQLite template, or the
    PostgreSQL schema with every alert truncated away.
    """

    url: str
    dialect: str
    district: DistrictSummary
    district_seconds: float
    directory: Path
    schema: str | None = None
    path: Path | None = None
    template: Path | None = None
    runs: int = 0

    def next_run(self) -> str:
        self.runs += 1
        if self.runs == 1:
            return self.url
        if self.template is not None and self.path is not None:
            _remove(self.path)
            shutil.copyfile(self.template, self.path)
        else:
            db = Database(self.url)
            try:
                reset_alerts(db)
            finally:
                db.dispose()
        return self.url


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def base_url(option: str | None) -> str:
    """The database to measure on: the option, else BROADCASTER_DATABASE_URL, else SQLite."""
    url = option or os.environ.get("BROADCASTER_DATABASE_URL") or "sqlite"
    if url in ("postgresql", "postgres", "pg"):
        return PG_DEFAULT
    return url


def _head() -> str:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return str(ScriptDirectory.from_config(config).get_current_head())


def _sqlite_dir(url: str) -> Path:
    if url == "sqlite":
        return BENCH_DIR
    database = make_url(url).database
    return Path(database).parent if database else BENCH_DIR


def _template(directory: Path, households: int, say: Progress) -> tuple[Path, float]:
    """A migrated SQLite file holding the district, generated once and kept for reuse."""
    path = directory / f"district-{households}-{_head()}.db"
    if path.is_file():
        return path, 0.0
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(f"district-{households}-*.db"):  # older migrations
        stale.unlink()
    partial = path.with_suffix(".partial")
    for leftover in directory.glob(partial.name + "*"):
        leftover.unlink()
    say(f"generating a district of {households:,} households into {path}")
    db = Database(f"sqlite:///{partial.resolve()}")
    upgrade(db.engine)
    started = time.perf_counter()
    generate_district(db, households=households)
    seconds = time.perf_counter() - started
    db.dispose()
    with closing(sqlite3.connect(partial)) as connection:
        connection.execute("ANALYZE")
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(path)
    return path, seconds


@contextmanager
def sqlite_scratch(url: str, households: int, say: Progress) -> Iterator[Scratch]:
    """A fresh copy of the cached district file; deleted afterwards."""
    directory = _sqlite_dir(url)
    template, generated = _template(directory, households, say)
    path = (directory / f"run-{os.getpid()}-{secrets.token_hex(3)}.db").resolve()
    shutil.copyfile(template, path)
    db = Database(f"sqlite:///{path}")
    try:
        started = time.perf_counter()
        district = generate_district(db, households=households)  # finds it: a cheap check
        db.dispose()
        seconds = generated or time.perf_counter() - started
        yield Scratch(
            f"sqlite:///{path}",
            "sqlite",
            district,
            round(seconds, 2),
            directory,
            path=path,
            template=template,
        )
    finally:
        db.dispose()
        _remove(path)


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def pg_scratch(url: str, households: int, say: Progress) -> Iterator[Scratch]:
    """A new schema with the district (COPY); the schema is dropped afterwards."""
    schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_engine(url, pool_size=1)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = _with_search_path(url, schema)
    db = Database(scoped)
    try:
        upgrade(db.engine)
        say(f"generating a district of {households:,} households in schema {schema}")
        started = time.perf_counter()
        district = generate_district(db, households=households)
        seconds = round(time.perf_counter() - started, 2)
        reset_alerts(db)  # analysed, as autovacuum leaves a deployment's imported district
        db.dispose()
        yield Scratch(scoped, "postgresql", district, seconds, BENCH_DIR, schema=schema)
    finally:
        db.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def scratch_database(option: str | None, households: int, say: Progress) -> Iterator[Scratch]:
    """SQLite or PostgreSQL scratch database for the chosen URL."""
    url = base_url(option)
    if url == "sqlite" or url.startswith("sqlite"):
        with sqlite_scratch(url, households, say) as scratch:
            yield scratch
    else:
        with pg_scratch(url, households, say) as scratch:
            yield scratch


def reset_alerts(db: Database) -> None:
    """Forget every alert and what hangs off it (between runs on one PostgreSQL schema)."""
    with db.transaction() as session:
        # deliveries and recipients are named: on PostgreSQL their references are triggers
        # (migration 0019), which CASCADE does not follow
        session.execute(text("TRUNCATE alerts, recipients, deliveries, alert_tallies CASCADE"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def heads_only(db: Database) -> int:
    """Keep one active mobile per household (its first): one SMS per household. PostgreSQL
    hashes the kept ids only within work_mem (4 MB: about 100,000 of them); past that, NOT IN
    scans the kept list once per person, which at a million households never ended."""
    keep = "SELECT MIN(id) FROM people WHERE active AND phone_kind = 'mobile' GROUP BY household_id"
    with db.transaction() as session:
        if db.dialect == "postgresql":
            session.execute(text("SET LOCAL work_mem = '256MB'"))
        result = session.execute(
            text(f"UPDATE people SET active = false WHERE active AND id NOT IN ({keep})")  # noqa: S608
        )
    return int(getattr(result, "rowcount", 0) or 0)


def database_size_mib(db: Database, scratch: Scratch) -> float:
    """The database's size on disk: SQLite file plus WAL, or the schema's relations."""
    if scratch.path is not None:
        total = sum(
            Path(f"{scratch.path}{s}").stat().st_size
            for s in ("", "-wal")
            if Path(f"{scratch.path}{s}").exists()
        )
        return round(total / 2**20, 1)
    with db.read() as session:
        total = session.execute(
            text(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind IN ('r', 'm')"
            ),
            {"schema": scratch.schema},
        ).scalar_one()
    return round(int(total) / 2**20, 1)
