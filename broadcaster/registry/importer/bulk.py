"""Multi-row INSERT: COPY on PostgreSQL, a driver-level executemany on SQLite."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Dialect, Table, func, insert, select, text
from sqlalchemy.orm import Session

# psycopg re-parses every long multi-VALUES statement (≈ 70 µs a row); COPY does not.
COPY_MIN_ROWS = 50

Rows = Sequence[dict[str, Any]]


def insert_rows(
    session: Session, table: Table, rows: Rows, *, return_ids: bool = False
) -> list[int]:
    """Insert rows (all with the same keys); with return_ids, their new ids in row order."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        return _copy(session, table, rows, return_ids=return_ids)
    if dialect.name == "sqlite":
        return _sqlite(session, dialect, table, rows, return_ids=return_ids)
    if not return_ids:
        session.execute(insert(table), list(rows))
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [id_ for (id_,) in session.execute(statement, list(rows))]


def _sqlite(
    session: Session, dialect: Dialect, table: Table, rows: Rows, *, return_ids: bool
) -> list[int]:
    keys = list(rows[0])
    ids: list[int] = []
    if return_ids:
        # This transaction holds SQLite's only write lock (the engine begins IMMEDIATE),
        # so the ids after MAX(id) are ours; RETURNING would cost a statement per page.
        last = session.scalar(select(func.max(table.c.id))) or 0
        ids = list(range(last + 1, last + 1 + len(rows)))
        keys = ["id", *keys]
        rows = [{"id": id_, **row} for id_, row in zip(ids, rows, strict=True)]
    converters = [_converter(table, key, dialect) for key in keys]
    names = ", ".join(f'"{key}"' for key in keys)
    marks = ", ".join("?" for _ in keys)
    parameters = [
        tuple(convert(row[key]) for key, convert in zip(keys, converters, strict=True))
        for row in rows
    ]
    # Table and column names come from the models, never from the file.
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
    session.connection().exec_driver_sql(statement, parameters)
    return ids


def _converter(table: Table, key: str, dialect: Dialect) -> Callable[[Any], Any]:
    """The column type's own bind processing, remembering the last value (often repeated)."""
    process = table.c[key].type.bind_processor(dialect)
    if process is None:
        return _identity
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return convert


def _identity(value: Any) -> Any:
    return value


def _copy(session: Session, table: Table, rows: Rows, *, return_ids: bool) -> list[int]:
    keys = list(rows[0])
    columns = list(keys)
    ids: list[int] = []
    if return_ids:
        ids = list(
            session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id'))"
                    " FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": len(rows)},
            ).scalars()
        )
        columns = ["id", *columns]
    names = ", ".join(f'"{name}"' for name in columns)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
    ):
        for position, row in enumerate(rows):
            values = [_copy_value(row[key]) for key in keys]
            copy.write_row([ids[position], *values] if return_ids else values)
    return ids


def _copy_value(value: Any) -> Any:
    """What COPY takes for a Python value: enums as their value, JSON as text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value
