"""Migrations build the same schema as the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from broadcaster.db.database import Database
from broadcaster.db.integrity import checked_per_statement
from broadcaster.tables import Base


def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as connection:
        opts: dict[str, object] = {"compare_type": True}
        if db.dialect == "postgresql":  # these keys are triggers there (migration 0019)
            opts["include_object"] = checked_per_statement
        context = MigrationContext.configure(connection, opts=opts)
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
