"""CAP out: every published alert reads back through our own CAP parser and mapping."""

from __future__ import annotations

from urllib.parse import urlsplit

import defusedxml.ElementTree as defused_et  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Level, MsgType
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.feeds.cap import parse_alert, to_feed_alert
from broadcaster.feeds.cap.model import CapMsgType, CapStatus
from broadcaster.registry.models import Household, Person, Zone
from tests.api_fixtures import auth
from tests.factories.alerts import RED_RAIN
from tests.integration.feeds_support import (
    cap_document,
    current,
    fixture,
    post_cap,
    region_registry,
)

ATOM = "{http://www.w3.org/2005/Atom}"
OUTLINE = {
    "type": "Polygon",
    "coordinates": [[[106.6, 29.7], [106.7, 29.7], [106.7, 29.8], [106.6, 29.8], [106.6, 29.7]]],
}


def publish_some(client: TestClient, role_keys: dict[Role, str], db: Database) -> dict[str, int]:
    """An officer's alert, a CAP alert with a polygon, an updated one, a cancelled one, a drill
    (not public), a drill made public, and one still pending approval."""
    with db.transaction() as session:
        session.scalars(select(Zone).where(Zone.code == "JB")).one().geometry = OUTLINE
    officer, feed = auth(role_keys[Role.officer]), role_keys[Role.feed]
    made = {
        "officer": client.post(
            "/api/v1/alerts",
            json={**RED_RAIN, "level": "yellow", "zones": ["JB"]},
            headers=officer,
        ).json()["id"],
        "red": post_cap(client, feed, current(fixture("yubei_rainstorm_red.xml"))).json()["alert"][
            "id"
        ],
        "updated": post_cap(client, feed, cap_document("P-1")).json()["alert"]["id"],
        "cancelled": post_cap(client, feed, cap_document("P-2")).json()["alert"]["id"],
        "drill": post_cap(client, feed, cap_document("P-3", status="Exercise")).json()["alert"][
            "id"
        ],
        "public_drill": client.post(
            "/api/v1/alerts",
            json={
                **RED_RAIN,
                "level": "yellow",
                "zones": ["JB"],
                "status": "exercise",
                "public": True,
            },
            headers=officer,
        ).json()["id"],
        "pending": post_cap(
            client, feed, cap_document("P-4", event="暴雨红色预警", severity="Extreme")
        ).json()["alert"]["id"],
    }
    assert client.post(f"/api/v1/alerts/{made['red']}/approve", headers=officer).is_success
    update = cap_document(
        "P-1u",
        msg_type="Update",
        references="cma@example.cn,P-1,2024-07-01T08:00:00+08:00",
        headline="预警更新",
        sent="2024-07-01T09:00:00+08:00",
    )
    assert post_cap(client, feed, update).json()["action"] == "updated"
    assert client.post(f"/api/v1/alerts/{made['cancelled']}/cancel", headers=officer).is_success
    return made


def cap_urls(client: TestClient, query: str = "") -> list[str]:
    answer = client.get("/cap/alerts.atom" + query)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = defused_et.fromstring(answer.content)
    return [
        urlsplit(entry.find(f"{ATOM}link").get("href")).path
        for entry in feed.findall(f"{ATOM}entry")
    ]


def test_every_published_alert_round_trips(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    made = publish_some(client, role_keys, db)
    urls = cap_urls(client)
    expected = ("officer", "red", "updated", "cancelled")
    assert sorted(urls) == sorted(f"/cap/alerts/{made[k]}.xml" for k in expected)
    with db.read() as session:
        private = [
            *session.scalars(select(Household.code)),
            *session.scalars(select(Household.head_name)),
            *session.scalars(select(Person.phone)),
        ]
    documents = {}
    for url in cap_urls(client, "?drills=true"):
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/cap+xml"
        alert = parse_alert(answer.content)  # validates against CAP 1.2
        feed_alert = to_feed_alert(alert)
        documents[int(url.rsplit("/", 1)[1].removesuffix(".xml"))] = (alert, feed_alert)
        assert not any(secret in answer.text for secret in private)
    assert set(documents) == {made[k] for k in (*expected, "public_drill")}

    officer, _ = documents[made["officer"]]
    (area,) = officer.infos[0].areas
    assert [(g.value_name, g.value) for g in area.geocodes] == [("GB/T 2260", "500105")]
    assert len(area.polygons) == 1  # the zone's outline
    red, red_feed = documents[made["red"]]
    assert red_feed.content is not None
    assert red_feed.content.level is Level.red
    descriptions = [a.area_desc for a in red.infos[0].areas]
    assert "YB区" in descriptions
    assert any(a.polygons and a.circles for a in red.infos[0].areas)
    updated, updated_feed = documents[made["updated"]]
    assert (updated.msg_type, updated.identifier) == (CapMsgType.update, "P-1u")
    assert [(r.sender, r.identifier) for r in updated.references] == [("cma@example.cn", "P-1")]
    assert updated_feed.msg_type is MsgType.update
    cancelled, _ = documents[made["cancelled"]]
    assert cancelled.msg_type is CapMsgType.cancel
    assert [r.identifier for r in cancelled.references] == ["P-2"]
    drill, drill_feed = documents[made["public_drill"]]
    assert drill.status is CapStatus.exercise
    assert drill.infos[0].headline is not None
    assert drill.infos[0].headline.startswith("【演练】")
    assert drill_feed.is_drill


def test_unpublished_alerts_are_not_found(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    made = publish_some(client, role_keys, db)
    assert client.get(f"/cap/alerts/{made['pending']}.xml").status_code == 404
    assert client.get(f"/cap/alerts/{made['drill']}.xml").status_code == 404  # not made public
    assert client.get("/cap/alerts/999999.xml").status_code == 404


def test_an_empty_feed_is_valid_atom(client: TestClient) -> None:
    assert cap_urls(client) == []
