"""Members without a phone and proxy contacts (代联系人) through the household edit API: numbers
normalised, a bad one a 422 naming the field with nothing changed, 无电话 shown."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.registry.models import Household
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.console_support import login, seed, users
from tests.integration.test_household_edit_api import seeded

SON = {"name": "王儿子", "phone": "137 0013 7000", "relation": "儿子", "may_confirm": True}


def contacts(answer: dict[str, Any]) -> tuple[list[Any], list[Any], bool]:
    people = [(p["name"], p["phone"], p["phone_kind"], p["active"]) for p in answer["people"]]
    proxies = [
        (p["name"], p["phone"], p["phone_kind"], p["relation"], p["may_confirm"])
        for p in answer["proxies"]
    ]
    return people, proxies, answer["no_phone"]


def test_members_without_a_phone_and_proxies_are_edited(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    code = seeded(db)
    url = f"/api/v1/registry/households/{code}"
    officer = auth(role_keys[Role.officer])
    body = {
        "people": [{"name": "王大爷"}, {"name": "王小", "phone": "139 0013 9001"}],
        "proxies": [SON, {"name": "李邻居", "phone": "023-86010708", "relation": "邻居"}],
    }
    head = client.get(url, headers=officer).json()["people"][0]["name"]
    edited = client.patch(url, json=body, headers=officer)
    assert edited.status_code == 200, edited.text
    assert contacts(edited.json()) == (
        [
            ("王大爷", None, None, True),
            ("王小", "+8613900139001", "mobile", True),
            (head, "+8613800000001", "mobile", False),  # left out: retired, not deleted
        ],
        [
            ("王儿子", "+8613700137000", "mobile", "儿子", True),
            ("李邻居", "+862386010708", "landline", "邻居", False),
        ],
        False,
    )

    # Only a member without a phone: the household is flagged 无电话; proxies stay.
    alone = client.patch(url, json={"people": [{"name": "王大爷"}]}, headers=officer)
    assert alone.status_code == 200, alone.text
    people, proxies, no_phone = contacts(alone.json())
    assert [p for p in people if p[3]] == [("王大爷", None, None, True)]
    assert (len(proxies), no_phone) == (2, True)
    listed = client.get("/api/v1/registry/households", headers=officer).json()["items"]
    assert [(h["code"], h["no_phone"]) for h in listed] == [(code, True)]

    # The same number back: its member row comes back (deliveries refer to it), not a twin.
    back = client.patch(
        url,
        json={"people": [{"name": "王大爷", "phone": "13800000001"}], "proxies": []},
        headers=officer,
    )
    people, proxies, no_phone = contacts(back.json())
    assert [p for p in people if p[3]] == [("王大爷", "+8613800000001", "mobile", True)]
    assert len(people) == 3
    assert (proxies, no_phone) == ([], False)


def test_bad_members_and_proxies_are_refused_naming_the_field(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    code = seeded(db)
    url = f"/api/v1/registry/households/{code}"
    officer = auth(role_keys[Role.officer])
    before = client.get(url, headers=officer).json()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"people": [{"name": "甲"}, {"name": "乙", "phone": "12345"}]}, "people[1].phone"),
        ({"people": [{"name": "甲", "phone": "abc"}]}, "people[0].phone"),
        ({"people": [{"phone": "13900139001"}, {"phone": "139-0013-9001"}]}, "people[1].phone"),
        ({"people": [{"name": " "}]}, "people[0]"),
        ({"proxies": [{**SON, "phone": "0000"}]}, "proxies[0].phone"),
        ({"proxies": [SON, {**SON, "name": "又一个"}]}, "proxies[1].phone"),
        ({"proxies": [{"name": "无电话"}]}, "phone"),  # pydantic: missing
        ({"proxies": [{**SON, "name": ""}]}, "name"),
        ({"proxies": [SON] * 6}, "proxies"),
        ({"people": [{"name": "甲", "mobile": "139"}]}, "mobile"),  # unknown key
    ]
    for body, field in cases:
        refused = client.patch(url, json=body, headers=officer)
        assert refused.status_code == 422, (body, refused.text)
        assert field in refused.text, (body, refused.text)
    after = client.get(url, headers=officer).json()
    assert after == before


def test_the_console_page_edits_members_and_proxies_and_flags_no_phone(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    code = seed(db, settings).household_codes[0]
    url = f"/console/registry/households/{code}"
    token = login(client, "officer")
    page = client.get(url)
    assert page.status_code == 200
    assert "未登记代联系人。" in page.text

    form = {
        "csrf": token,
        "notes": "",
        "contacts": "1",
        "member_name": ["王大爷", ""],
        "member_phone": ["", ""],  # the head has no phone; a blank row
        "proxy_name": ["王儿子", "李邻居", ""],
        "proxy_phone": ["13700137000", "023-86010708", ""],
        "proxy_relation": ["儿子", "邻居", ""],
        "proxy_may_confirm": ["1", "0", "0"],
    }
    bad = client.post(url, data={**form, "proxy_phone": ["13700137000", "12", ""]})
    assert bad.status_code == 422
    assert "proxies[1].phone" in bad.text
    assert "未登记代联系人。" in client.get(url).text  # nothing changed

    saved = client.post(url, data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    page = client.get(url).text
    assert "无电话" in page
    assert "+8613700137000" in page
    assert "+862386010708" in page
    listed = client.get("/console/registry?tab=households").text
    assert listed.count("无电话") == 1  # only this household
    with db.read() as session:
        home = session.scalars(select(Household).where(Household.code == code)).one()
        head = home.people[0]
        assert (head.name, head.phone, head.active) == ("王大爷", None, True)
        assert [(p.name, p.relation, p.may_confirm) for p in home.proxies] == [
            ("王儿子", "儿子", True),
            ("李邻居", "邻居", False),
        ]

    # an edit of notes alone (no contacts fields) keeps the members and proxies
    notes_only = client.post(url, data={"csrf": token, "notes": "独居"}, follow_redirects=False)
    assert notes_only.status_code == 303
    with db.read() as session:
        home = session.scalars(select(Household).where(Household.code == code)).one()
        assert len(home.proxies) == 2


def test_recipient_exports_say_no_phone(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        f.household(session, grid=grid, code="PHONE", phones=("+8613800000007",))
        f.phoneless_household(session, grid=grid, code="NOPHONE")
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    login(client, "officer")
    base = f"/console/alerts/{alert_id}/recipients"
    rows = list(csv.reader(io.StringIO(client.get(base + ".csv").content.decode("utf-8-sig"))))
    assert {r[0]: r[8] for r in rows[1:]} == {"PHONE": "138****0007", "NOPHONE": "无电话"}
    english = client.get(base + ".csv?lang=en").content.decode("utf-8-sig")
    assert "No phone" in english
    sheet = load_workbook(io.BytesIO(client.get(base + ".xlsx").content), read_only=True)
    values = list(next(iter(sheet.worksheets)).iter_rows(values_only=True))
    assert {r[0]: r[8] for r in values[1:]} == {"PHONE": "138****0007", "NOPHONE": "无电话"}
    page = client.get(f"/console/alerts/{alert_id}/households/NOPHONE")
    assert page.status_code == 200
    assert "无电话" in page.text


def test_a_household_without_a_phone_is_registered_by_hand(
    client: TestClient, db: Database, role_keys: dict[Role, str]
) -> None:
    seeded(db)
    url = "/api/v1/registry/households"
    officer = auth(role_keys[Role.officer])
    body: dict[str, Any] = {
        "code": "NEW1",
        "head_name": "刘奶奶",
        "address": "一村5组8号",
        "grid_code": "G1",
        "hazard_zones": ["H1"],
        "vulnerability": ["elderly_alone"],
        "proxies": [SON],
    }
    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({**body, "grid_code": "V1"}, 422, "grid_code"),
        ({**body, "grid_code": "NOPE"}, 422, "grid_code"),
        ({**body, "hazard_zones": ["G1"]}, 422, "hazard_zones"),
        ({**body, "vulnerability": ["vip"]}, 422, "vulnerability"),
        ({**body, "proxies": [{**SON, "phone": "1"}]}, 422, "proxies[0].phone"),
        ({**body, "people": [{"name": "甲", "phone": "2"}]}, 422, "people[0].phone"),
        ({**body, "code": ""}, 422, "code"),
    ]
    for bad, status, field in refusals:
        refused = client.post(url, json=bad, headers=officer)
        assert refused.status_code == status, (bad, refused.text)
        assert field in refused.text, (bad, refused.text)
    assert client.get(url, headers=officer).json()["total"] == 1  # nothing created

    created = client.post(url, json=body, headers=officer)
    assert created.status_code == 201, created.text
    people, proxies, no_phone = contacts(created.json())
    assert people == [("刘奶奶", None, None, True)]
    assert proxies == [("王儿子", "+8613700137000", "mobile", "儿子", True)]
    assert no_phone is True
    assert created.json()["hazard_zones"] == ["H1"]
    again = client.post(url, json=body, headers=officer)
    assert again.status_code == 409
    assert "code" in again.text
    field_worker = auth(role_keys[Role.field])
    assert client.post(url, json={**body, "code": "NEW2"}, headers=field_worker).status_code == 403
