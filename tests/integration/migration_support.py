"""Shared by the migration tests (no tests here): an empty database of each backend."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.db.database import Database
from broadcaster.db.engine import make_engine
from tests.conftest import _drop_pg_schema, _pg_schema_url, pg_unavailable_reason


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each backend, for migrating step by step."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
        db = Database(url, make_engine(url))
        yield db
        db.dispose()
        return
    reason = pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    schema = f"bm_{os.getpid()}_{secrets.token_hex(3)}"
    db = Database(_pg_schema_url(schema))
    yield db
    db.dispose()
    _drop_pg_schema(schema)
