"""Integers out of the database's range are a 422 naming the parameter, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.db.ids import BIGINT_MAX, ID_MAX
from tests.api_fixtures import auth
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN

HUGE = 100_000_000_000_000_000_000
TWO_63 = 2**63


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/api/v1/alerts?offset={HUGE}", "offset"),
        ("/api/v1/alerts/99999999999999999999", "alert_id"),
        ("/api/v1/alerts/0", "alert_id"),
        (f"/api/v1/alerts/{TWO_63}/recipients", "alert_id"),
        (f"/api/v1/alerts/1/recipients?offset={TWO_63}", "offset"),
        (f"/api/v1/registry/households?offset={TWO_63}", "offset"),
        ("/api/v1/registry/households?offset=-1", "offset"),
        (f"/api/v1/visits?alert_id={TWO_63}", "alert_id"),
        (f"/api/v1/relay-tasks?alert_id={TWO_63}", "alert_id"),
        (f"/api/v1/alerts/{TWO_63}/scorecard", "alert_id"),
        (f"/cap/alerts/{TWO_63}.xml", "alert_id"),
        (f"/public/alerts/{TWO_63}", "alert_id"),
    ],
)
def test_an_integer_out_of_range_is_a_422_naming_it(
    client: TestClient, role_keys: dict[Role, str], url: str, field: str
) -> None:
    answer = client.get(url, headers=auth(role_keys[Role.admin]))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/alerts/{TWO_63}/cancel",
        f"/api/v1/alerts/{TWO_63}/approve",
        f"/api/v1/visits/{TWO_63}/start",
        f"/api/v1/loudspeaker/tasks/{TWO_63}/played",
        f"/api/v1/help-requests/{TWO_63}/handle",
    ],
)
def test_writes_with_an_id_out_of_range_are_a_422_and_change_nothing(
    client: TestClient, role_keys: dict[Role, str], db: Database, url: str
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        f.household(session, grid=zones["G1"])
    officer = auth(role_keys[Role.officer])
    alert = client.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]}, headers=officer)
    before = client.get(f"/api/v1/alerts/{alert.json()['id']}", headers=officer).json()
    answer = client.post(url, json={"note": "x"}, headers=auth(role_keys[Role.admin]))
    assert answer.status_code == 422, answer.text
    after = client.get(f"/api/v1/alerts/{alert.json()['id']}", headers=officer).json()
    assert (after["state"], after["counts"]) == (before["state"], before["counts"])


def test_the_largest_offset_and_id_the_database_holds_answer_normally(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    admin = auth(role_keys[Role.admin])
    assert client.get(f"/api/v1/alerts?offset={BIGINT_MAX}", headers=admin).json() == []
    page = client.get(f"/api/v1/registry/households?offset={BIGINT_MAX}", headers=admin)
    assert (page.status_code, page.json()["items"]) == (200, [])
    assert client.get(f"/api/v1/alerts/{ID_MAX}", headers=admin).status_code == 404
    assert client.get(f"/api/v1/visits?alert_id={ID_MAX}", headers=admin).json() == []
    # One above what an id column holds (INTEGER on PostgreSQL) is refused before any query.
    assert client.get(f"/api/v1/alerts/{ID_MAX + 1}", headers=admin).status_code == 422


def test_an_id_out_of_range_in_a_body_is_a_422_and_creates_nothing(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    with db.transaction() as session:
        f.zone_tree(session)
    body = {"code": "Q1", "name": "群", "kind": "wechat", "zone": "V1", "owner_worker_id": TWO_63}
    answer = client.post("/api/v1/registry/groups", json=body, headers=auth(role_keys[Role.admin]))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "owner_worker_id"
    assert client.get("/api/v1/registry/groups", headers=auth(role_keys[Role.admin])).json() == []
