"""Text that would reach residents refuses control and invisible-only characters; an expiry
in the past is refused; each is a 422 naming the field that creates nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.plain_text import text_problem
from tests.api_fixtures import auth
from tests.factories.alerts import RED_RAIN
from tests.integration.feeds_support import cap_document, counts, post_cap, region_registry

ALERT = {**RED_RAIN, "level": "yellow", "zones": ["JB"]}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"headline": "暴雨\x00预警"}, "headline", "U+0000"),
        ({"body": "请转移\x1b[2J到安全地带"}, "body", "U+001B"),
        ({"instruction": "转移\x07"}, "instruction", "U+0007"),
        ({"headline": "暴雨\n预警"}, "headline", "U+000A"),  # a line break only in bodies
        ({"headline": "\u200b\u200b\u200b"}, "headline", "only invisible"),
        ({"headline": "\u3164\u200d"}, "headline", "only invisible"),
        ({"body": "\u2060\ufeff"}, "body", "only invisible"),
        ({"headline": "预警\u202e警预"}, "headline", "U+202E"),
        ({"zones": ["JB\x00"]}, "zones.0", "U+0000"),
        ({"expires_at": "1999-07-01T08:00:00+08:00"}, "expires_at", "in the past"),
    ],
)
def test_bad_text_is_refused_naming_the_field_and_nothing_is_sent(
    client: TestClient,
    role_keys: dict[Role, str],
    db: Database,
    change: dict[str, object],
    field: str,
    words: str,
) -> None:
    region_registry(db)
    before = counts(db)
    officer = auth(role_keys[Role.officer])
    for route in ("/api/v1/alerts/preview", "/api/v1/alerts"):
        answer = client.post(route, json={**ALERT, **change}, headers=officer)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field
        assert words in answer.json()["message"]
    assert counts(db) == before


def test_line_breaks_and_tabs_in_the_body_and_ordinary_text_are_fine(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    body = {**ALERT, "body": "第一行\n第二行\t（含制表符）\r\n⚠️ 👨‍👩‍👧 Ａ"}
    answer = client.post("/api/v1/alerts", json=body, headers=auth(role_keys[Role.officer]))
    assert answer.status_code == 201, answer.text
    assert answer.json()["body"] == body["body"]


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("发布暴雨黄色预警信号", "发布\u009b暴雨预警", "alert/info[0]/headline", "U+009B"),
        ("发布暴雨黄色预警信号", "&#x200B;&#x200C;&#xFEFF;", "alert/info[0]/headline", "invisible"),
        ("预计未来6小时", "预计&#x85;未来", "alert/info[0]/description", "U+0085"),
        ("测试区域", "测试\u202e区域", "alert/info[0]/area/areaDesc", "U+202E"),
        ("<event>暴雨黄色预警", "<event>暴雨\u0080", "alert/info[0]/event", "U+0080"),
    ],
)
def test_a_cap_document_with_bad_text_is_rejected_with_the_reason(
    client: TestClient,
    role_keys: dict[Role, str],
    db: Database,
    old: str,
    new: str,
    field: str,
    words: str,
) -> None:
    region_registry(db)
    before = counts(db)
    document = cap_document("TXT-1").decode().replace(old, new, 1).encode()
    answer = post_cap(client, role_keys[Role.feed], document)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["message"]
    assert counts(db) == before


def test_the_rule_itself() -> None:
    assert text_problem("暴雨\t预警\n", multiline=True) is None
    assert text_problem("暴雨\t预警", multiline=False) == (
        "含有控制字符 U+0009 / contains the control character U+0009"
    )
    assert text_problem("\ud800", multiline=True) is not None  # a lone surrogate
    assert text_problem("", multiline=False) is None  # emptiness is the field's own rule
    assert text_problem("家\u200d人", multiline=False) is None  # joiners inside real text


def test_an_officers_reason_or_note_with_a_nul_is_a_422_not_a_500(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    officer = auth(role_keys[Role.officer])
    for route, body in (
        ("/api/v1/alerts/1/reject", {"reason": "不发\x00"}),
        ("/api/v1/help-requests/1/handle", {"note": "已处理\x00"}),
    ):
        answer = client.post(route, json=body, headers=officer)
        assert answer.status_code == 422, answer.text
        assert "U+0000" in answer.json()["message"]
