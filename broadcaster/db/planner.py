"""Steering SQLite's planner away from an index that would scan a whole state of a table."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnExpressionArgument
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

T = TypeVar("T")


class unindexed(FunctionElement[T]):
    """The column, never searched by an index in SQLite (`+column`; the column itself
    elsewhere). Use it for a state beside a list of keys: `id IN (…) AND state = 'queued'`
    makes SQLite (without statistics, as after a bulk write) search the `(state, …)` index,
    every queued row of the table, instead of the few keys."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: ColumnExpressionArgument[T]) -> None:
        super().__init__(column)
        self.type = self.clauses.clauses[0].type  # compared and bound as the column


@compiles(unindexed)
def _plain(element: unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed, "sqlite")
def _plus(element: unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))
