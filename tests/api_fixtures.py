"""Fixtures for API tests: settings, an app client, and one API key per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from broadcaster.app import create_app
from broadcaster.auth import service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings with the data dir in a temporary folder."""
    return Settings(env="test", data_dir=tmp_path / "var", public_base_url="http://testserver")


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    """An API client on a fresh database (SQLite and PostgreSQL)."""
    with TestClient(create_app(settings, db)) as test_client:
        yield test_client


@pytest.fixture
def role_keys(db: Database) -> dict[Role, str]:
    """An API key for a user of each role."""
    keys: dict[Role, str] = {}
    with db.transaction() as session:
        for role in Role:
            user = service.create_user(session, username=f"u-{role.value}", role=role, actor=SYSTEM)
            _row, keys[role] = service.create_api_key(session, user=user, actor=SYSTEM)
    return keys


def auth(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}
