"""Integers the database can hold: ids and offsets outside them are a 422, never a 500."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

ID_MAX = 2**31 - 1  # ids are INTEGER columns (32 bits on PostgreSQL)
BIGINT_MAX = 2**63 - 1  # OFFSET takes a BIGINT on PostgreSQL and SQLite

# For every id and offset a route takes from its path, query or body.
Id = Annotated[int, Ge(1), Le(ID_MAX)]
Offset = Annotated[int, Ge(0), Le(BIGINT_MAX)]
