"""Groups in the registry API: WeChat/QQ groups with an owner (worker or mobile), validated,
422 naming the field, nothing half-written."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.registry.models import Group, WorkerRole
from tests.api_fixtures import auth
from tests.factories import registry as f


def test_groups_are_created_and_listed_with_their_owner(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    with db.transaction() as session:
        f.zone_tree(session)
        owner_id = f.worker(session, name="王网格", role=WorkerRole.field).id
    admin = auth(role_keys[Role.admin])
    wechat = {"code": "WC1", "name": "一村居民群", "kind": "wechat", "zone": "V1",
              "owner_worker_id": owner_id, "member_count": 120}  # fmt: skip
    qq = {"code": "QQ1", "name": "一村QQ群", "kind": "qq", "zone": "V1",
          "owner_phone": "174 0000 9001", "member_count": 40}  # fmt: skip
    for body in (wechat, qq):
        made = client.post("/api/v1/registry/groups", json=body, headers=admin)
        assert made.status_code == 201, made.text
    listed = client.get("/api/v1/registry/groups", headers=auth(role_keys[Role.officer])).json()
    assert [(g["code"], g["owner_worker_id"], g["owner_phone"]) for g in listed] == [
        ("QQ1", None, "+8617400009001"),
        ("WC1", owner_id, None),
    ]
    officer = client.post(
        "/api/v1/registry/groups", json=wechat, headers=auth(role_keys[Role.officer])
    )
    assert officer.status_code == 403


def test_bad_groups_get_422_naming_the_field_and_nothing_is_written(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    with db.transaction() as session:
        f.zone_tree(session)
    admin = auth(role_keys[Role.admin])
    good: dict[str, Any] = {"code": "WC1", "name": "群", "kind": "wechat", "zone": "V1",
                            "owner_phone": "17400009001"}  # fmt: skip
    assert client.post("/api/v1/registry/groups", json=good, headers=admin).status_code == 201
    cases = [
        ({"code": "WC1"}, "code"),  # exists already
        ({"code": "WC2", "zone": "NOPE"}, "zone"),
        ({"code": "WC2", "kind": "weibo"}, "kind"),
        ({"code": "WC2", "owner_phone": "12"}, "owner_phone"),
        ({"code": "WC2", "owner_phone": "+862363000000"}, "owner_phone"),  # a landline
        ({"code": "WC2", "owner_phone": None}, "owner_phone"),  # no owner at all
        ({"code": "WC2", "owner_phone": None, "owner_worker_id": 9999}, "owner_worker_id"),
        ({"code": "WC2", "member_count": -1}, "member_count"),
        ({"code": "WC2", "kind": "wecom"}, "webhook_key"),
        ({"code": "WC2", "colour": "red"}, "colour"),
    ]
    for change, field in cases:
        answer = client.post("/api/v1/registry/groups", json={**good, **change}, headers=admin)
        assert answer.status_code == 422, (change, answer.text)
        assert field in answer.text, (change, answer.text)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Group)) == 1
