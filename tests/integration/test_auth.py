"""API keys: hashed at rest, shown once, revocable; bootstrap key; audit of writes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.app import ensure_bootstrap
from broadcaster.auth.models import ApiKey, AuditEvent, Role
from broadcaster.db.database import Database
from tests.api_fixtures import auth


def test_key_is_stored_hashed_and_shown_once(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    admin = auth(role_keys[Role.admin])
    user = client.post(
        "/api/v1/users", json={"username": "li.officer", "role": "officer"}, headers=admin
    )
    assert user.status_code == 201, user.text
    created = client.post(
        "/api/v1/keys", json={"user_id": user.json()["id"], "name": "duty"}, headers=admin
    )
    assert created.status_code == 201
    key = created.json()["key"]
    listed = client.get("/api/v1/keys", headers=admin).json()
    assert all("key" not in row for row in listed)
    with db.transaction() as session:
        hashes = list(session.scalars(select(ApiKey.key_hash)))
    assert key not in hashes
    assert all(len(h) == 64 for h in hashes)
    me = client.get("/api/v1/me", headers=auth(key))
    assert me.json()["role"] == "officer"


def test_revoked_key_is_refused(client: TestClient, role_keys: dict[Role, str]) -> None:
    admin = auth(role_keys[Role.admin])
    officer_key = role_keys[Role.officer]
    key_id = next(
        k["id"]
        for k in client.get("/api/v1/keys", headers=admin).json()
        if k["user_id"] == client.get("/api/v1/me", headers=auth(officer_key)).json()["user_id"]
    )
    assert client.post(f"/api/v1/keys/{key_id}/revoke", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=auth(officer_key)).status_code == 401


def test_wrong_and_malformed_credentials(client: TestClient) -> None:
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_bootstrap_key_is_idempotent(db: Database, client: TestClient) -> None:
    ensure_bootstrap(db, "bk_bootstrap_test_value_1234567890")
    ensure_bootstrap(db, "bk_bootstrap_test_value_1234567890")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 1
    me = client.get("/api/v1/me", headers=auth("bk_bootstrap_test_value_1234567890"))
    assert me.json()["role"] == "admin"


def test_writes_are_audited_and_failed_writes_change_nothing(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    admin = auth(role_keys[Role.admin])
    with db.transaction() as session:
        before = session.scalar(select(func.count()).select_from(AuditEvent))
    ok = client.post("/api/v1/users", json={"username": "wang", "role": "field"}, headers=admin)
    dup = client.post("/api/v1/users", json={"username": "wang", "role": "field"}, headers=admin)
    bad = client.post("/api/v1/users", json={"username": "zhao", "role": "boss"}, headers=admin)
    assert (ok.status_code, dup.status_code, bad.status_code) == (201, 409, 422)
    assert bad.json()["field"] == "role"
    with db.transaction() as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert len(actions) == (before or 0) + 1
    assert actions[-1] == "user.create"
