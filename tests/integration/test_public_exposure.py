"""Public pages and the Atom feed show only warnings in force here: never a foreign CAP alert
that matched none of our zones, never a drill not made public — not by list, nor by id."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from broadcaster.alerts.models import Alert
from broadcaster.alerts.visibility import public_url
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.registry.models import ZoneKind
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories.alerts import RED_RAIN
from tests.integration.feeds_support import (
    cap_document,
    post_cap,
    region_registry,
    region_zone,
)


def issue(client: TestClient, key: str, **overrides: Any) -> dict[str, Any]:
    body = {**RED_RAIN, "level": "yellow", "zones": ["JB"], **overrides}
    answer = client.post("/api/v1/alerts", json=body, headers=auth(key))
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def by_id(client: TestClient, alert_id: int) -> dict[str, int]:
    """What each public address answers for one alert."""
    return {
        "page": client.get(f"/public/alerts/{alert_id}").status_code,
        "cap": client.get(f"/cap/alerts/{alert_id}.xml").status_code,
        "audio": client.get(f"/public/alerts/{alert_id}/audio.mp3").status_code,
    }


HIDDEN = {"page": 404, "cap": 404, "audio": 404}


def test_a_foreign_cap_alert_that_matched_nothing_is_not_shown_as_in_force(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    beijing = cap_document(
        "BJ-1",
        headline="北京市暴雨预警",
        geocodes=("110101",),
        polygon="39.9,116.3 39.9,116.5 40,116.4 39.9,116.3",
    )
    foreign = post_cap(client, role_keys[Role.feed], beijing).json()["alert"]
    assert (foreign["state"], foreign["households_targeted"]) == ("sending", 0)
    ours = post_cap(client, role_keys[Role.feed], cap_document("YB-1", headline="渝北区暴雨预警"))
    ours_alert = ours.json()["alert"]
    assert ours_alert["households_targeted"] == 3
    listing, atom = client.get("/public").text, client.get("/cap/alerts.atom").text
    assert "渝北区暴雨预警" in listing
    assert "渝北区暴雨预警" in atom
    assert "北京市暴雨预警" not in listing
    assert "北京市暴雨预警" not in atom
    assert "北京市暴雨预警" not in client.get("/public/embed").text
    assert by_id(client, foreign["id"]) == HIDDEN
    assert client.get(f"/public/alerts/{ours_alert['id']}").status_code == 200
    assert client.get(f"/cap/alerts/{ours_alert['id']}.xml").status_code == 200


def test_a_drill_not_made_public_is_not_readable_by_sequential_id(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    region_registry(db)
    officer = role_keys[Role.officer]
    hidden = issue(client, officer, status="exercise", headline="内部演练甲")
    shown = issue(client, officer, status="exercise", headline="公开演练乙", public=True)
    assert by_id(client, hidden["id"]) == HIDDEN
    # The drill's own messages carry a view key: they open its page and audio, nothing else.
    with db.read() as session:
        drill = session.get(Alert, hidden["id"])
        assert drill is not None
        page = public_url(settings, drill)
    assert "?k=" in page
    assert client.get(page).status_code == 200
    assert "【演练】" in client.get(page).text
    key = page.split("?k=")[1]
    assert client.get(f"/cap/alerts/{hidden['id']}.xml?k={key}").status_code == 404
    assert client.get(f"/public/alerts/{shown['id']}?k={key}").status_code == 200  # public
    forged = key[:5] + ("B" if key[5] != "B" else "C") + key[6:]
    assert client.get(f"/public/alerts/{hidden['id']}?k={forged}").status_code == 404
    assert client.get(f"/public/alerts/{shown['id']}").status_code == 200
    assert client.get(f"/cap/alerts/{shown['id']}.xml").status_code == 200
    listing = client.get("/public").text
    drills = client.get("/cap/alerts.atom?drills=true").text
    assert "内部演练甲" not in listing
    assert "内部演练甲" not in drills
    assert "公开演练乙" in listing
    assert "公开演练乙" in drills
    assert "公开演练乙" not in client.get("/cap/alerts.atom").text  # drills only when asked


def test_an_officers_alert_on_a_zone_without_households_is_still_ours(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    with db.transaction() as session:
        region_zone(session, "EMPTY", ZoneKind.village, None)
    alert = issue(client, role_keys[Role.officer], zones=["EMPTY"], headline="空村预警")
    assert alert["households_targeted"] == 0
    assert "空村预警" in client.get("/public").text
    assert client.get(f"/public/alerts/{alert['id']}").status_code == 200
