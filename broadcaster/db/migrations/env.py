"""Alembic environment: runs online against the engine handed over by migrate.py."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Engine

from broadcaster.db.integrity import checked_per_statement
from broadcaster.tables import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw: Any = connection.connection.driver_connection  # outside any transaction
        if sqlite:  # batch mode copies and drops tables that others reference: check after
            raw.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
            include_object=None if sqlite else checked_per_statement,  # 0019's triggers
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        if sqlite:
            broken = raw.execute("PRAGMA foreign_key_check").fetchall()
            raw.execute("PRAGMA foreign_keys=ON")
            if broken:
                raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")


run_migrations_online()
