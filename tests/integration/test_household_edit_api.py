"""Household editing through the API: the same registry service as the console page —
checked, audited, refused without changing anything when bad or out of date."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.auth.models import AuditEvent, Role
from broadcaster.db.database import Database
from broadcaster.registry.models import Household
from tests.api_fixtures import auth
from tests.factories import registry as f


def seeded(db: Database) -> str:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        return f.household(session, grid=zones["G1"], phones=("+8613800000001",)).code


def stored(db: Database, code: str) -> tuple[str, list[str], bool, int]:
    with db.read() as session:
        row = session.scalar(select(Household).where(Household.code == code))
        assert row is not None
        edits = session.scalar(select(func.count()).where(AuditEvent.action == "household.edit"))
        return row.notes, list(row.vulnerability), row.is_vulnerable, int(edits or 0)


def test_an_officer_edits_notes_and_flags_and_the_edit_is_audited(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    code = seeded(db)
    url = f"/api/v1/registry/households/{code}"
    read = client.get(url, headers=auth(role_keys[Role.officer]))
    assert read.status_code == 200, read.text
    body = {
        "notes": "卧床，需担架",
        "vulnerability": ["bedridden"],
        "version": read.json()["version"],
    }
    edited = client.patch(url, json=body, headers=auth(role_keys[Role.officer]))
    assert edited.status_code == 200, edited.text
    assert edited.json()["notes"] == "卧床，需担架"
    assert edited.json()["vulnerability"] == ["bedridden"]
    assert edited.json()["is_vulnerable"] is True
    assert stored(db, code) == ("卧床，需担架", ["bedridden"], True, 1)
    # only the notes: the flags stay
    notes_only = client.patch(url, json={"notes": "已转移"}, headers=auth(role_keys[Role.admin]))
    assert notes_only.status_code == 200, notes_only.text
    assert stored(db, code) == ("已转移", ["bedridden"], True, 2)


def test_bad_stale_or_unauthorised_edits_change_nothing(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    code = seeded(db)
    url = f"/api/v1/registry/households/{code}"
    officer = auth(role_keys[Role.officer])
    stale = client.get(url, headers=officer).json()["version"]
    assert client.patch(url, json={"notes": "先改"}, headers=officer).status_code == 200
    before = stored(db, code)

    refused = client.patch(url, json={"notes": "后改", "version": stale}, headers=officer)
    assert refused.status_code == 409
    assert refused.json()["field"] == "version"

    unknown_flag = client.patch(url, json={"vulnerability": ["vip"]}, headers=officer)
    assert unknown_flag.status_code == 422
    assert "vip" in unknown_flag.text

    too_long = client.patch(url, json={"notes": "长" * 2001}, headers=officer)
    assert too_long.status_code == 422

    missing = client.patch("/api/v1/registry/households/NOPE", json={"notes": "x"}, headers=officer)
    assert missing.status_code == 404

    for role in (Role.feed, Role.field, Role.operator):
        assert (
            client.patch(url, json={"notes": "x"}, headers=auth(role_keys[role])).status_code == 403
        )
    assert stored(db, code) == before
