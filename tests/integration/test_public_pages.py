"""The public alert pages: the active alert is listed on the first request after issue, no
phone number or resident name of the demo district ever appears, drills are listed only
when made public and are always marked, and the embed snippet is served by us."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.registry.models import Group, Household, Person, Proxy, Worker, Zone, ZoneKind
from broadcaster.sample.district import generate_district
from tests.api_fixtures import auth
from tests.factories.alerts import RED_RAIN

DIGITS = re.compile(r"\d{7,}")


def issue(client: TestClient, key: str, **overrides: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/alerts", json={**RED_RAIN, **overrides}, headers=auth(key))
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def personal_data(db: Database) -> tuple[set[str], set[str]]:
    """Every phone number (residents, workers, group owners) and every resident name."""
    with db.read() as session:
        phones = {p for p in session.scalars(select(Person.phone)) if p}  # some have none
        phones |= set(session.scalars(select(Proxy.phone)))
        phones |= set(session.scalars(select(Worker.phone)))
        phones |= {p for p in session.scalars(select(Group.owner_phone)) if p}
        names = {n for n in session.scalars(select(Person.name)) if n}
        names |= set(session.scalars(select(Proxy.name)))
        names |= set(session.scalars(select(Household.head_name)))
        places = list(session.scalars(select(Zone.name)))
    # A two-character name that is also part of a place name cannot be told apart from it.
    names = {n for n in names if not any(n in place for place in places)}
    return phones, names


def variants(phone: str) -> set[str]:
    """A number as pages might print it: E.164, without +, national."""
    bare = phone.lstrip("+")
    return {phone, bare, bare[2:] if bare.startswith("86") else bare}


def test_public_lists_the_alert_at_once_and_shows_no_personal_data(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    generate_district(db, households=300)
    with db.read() as session:
        village = session.scalars(
            select(Zone).where(Zone.kind == ZoneKind.village).order_by(Zone.id)
        ).first()
        assert village is not None
        village_code, village_name = village.code, village.name
    start = time.perf_counter()
    alert = issue(client, role_keys[Role.officer], zones=[village_code])
    listing = client.get("/public")  # the first request after issue, no waiting
    elapsed = time.perf_counter() - start
    print(f"\npublic: issue + first /public in {elapsed * 1000:.0f} ms")
    assert listing.status_code == 200
    assert RED_RAIN["headline"] in listing.text
    assert f"/public/alerts/{alert['id']}" in listing.text
    assert re.search(r"public, max-age=\d+", listing.headers["cache-control"])

    one = client.get(f"/public/alerts/{alert['id']}")
    embed = client.get("/public/embed")
    script = client.get("/public/embed.js")
    assert one.status_code == embed.status_code == script.status_code == 200
    for page in (listing, one, embed):
        assert village_name in page.text  # the area by name
        assert "红色预警" in page.text
        assert "暴雨" in page.text
        assert RED_RAIN["instruction"] in page.text
    assert f"/cap/alerts/{alert['id']}.xml" in one.text
    assert "http://testserver/public/embed" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert "iframe" in script.text
    assert "<script" not in embed.text.split("</head>")[1]

    phones, names = personal_data(db)
    assert len(phones) > 300
    assert len(names) > 100
    for page in (listing, one, embed, script):
        text = page.text
        leaked = [p for p in phones if any(v in text for v in variants(p))]
        assert leaked == []
        assert [n for n in names if n in text] == []
        assert all(len(d) < 11 for d in DIGITS.findall(text))  # no phone-length digit run


def test_drills_are_listed_only_when_public_and_always_marked(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    generate_district(db, households=50)
    key = role_keys[Role.officer]
    with db.read() as session:
        code = session.scalars(select(Zone.code).where(Zone.kind == ZoneKind.village)).first()
    quiet = issue(client, key, zones=[code], status="exercise", headline="内部演练")
    shown = issue(client, key, zones=[code], status="exercise", public=True, headline="公开演练")
    actual_hidden = issue(client, key, zones=[code], public=False, headline="真实预警")
    assert quiet["public"] is False
    assert shown["public"] is True
    listing = client.get("/public").text
    assert "内部演练" not in listing
    assert "公开演练" in listing
    assert "【演练】公开演练" in listing
    assert "真实预警" in listing  # actual alerts are always public
    assert actual_hidden["public"] is False
    embed = client.get("/public/embed").text
    assert "内部演练" not in embed
    assert "【演练】公开演练" in embed
    assert client.get(f"/public/alerts/{quiet['id']}").status_code == 404  # not made public
    direct = client.get(f"/public/alerts/{shown['id']}")  # a public drill's own link: marked
    assert direct.status_code == 200
    assert "【演练】这是一次演练" in direct.text
    assert client.get("/public/alerts/999999").status_code == 404
    assert "预警不存在" in client.get("/public/alerts/999999").text


def test_ended_and_held_alerts_leave_the_list(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    generate_district(db, households=50)
    key = role_keys[Role.officer]
    with db.read() as session:
        code = session.scalars(select(Zone.code).where(Zone.kind == ZoneKind.village)).first()
    alert = issue(client, key, zones=[code], headline="即将取消")
    assert "即将取消" in client.get("/public").text
    assert client.post(f"/api/v1/alerts/{alert['id']}/cancel", headers=auth(key)).status_code == 200
    assert "即将取消" not in client.get("/public").text
    page = client.get(f"/public/alerts/{alert['id']}")
    assert page.status_code == 200
    assert "已取消" in page.text
    held = issue(client, role_keys[Role.feed], zones=[code], headline="待审批")  # red from a feed
    assert held["state"] == "pending_approval"
    assert "待审批" not in client.get("/public").text
    assert client.get(f"/public/alerts/{held['id']}").status_code == 404
