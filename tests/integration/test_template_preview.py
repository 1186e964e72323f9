"""Approved templates in the preview: per template-only provider of a medium, the exact text,
its length, SMS parts and template code; a value over a variable's limit is refused (422
naming the provider, the variable and the reason) at preview, issue, approval and update,
and nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.alerts.models import Alert, AlertState
from broadcaster.app import create_app
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.settings import Settings
from channels.base import Channel
from channels.config import Deployment
from channels.registry import registered
from tests.api_fixtures import auth
from tests.factories import registry as f
from tests.integration.templated_support import acme_sms, config_with_book, write_book

__all__ = ["acme_sms"]  # the fixture, used by name
ALERT: dict[str, Any] = {
    "hazard": "flood",
    "level": "orange",
    "headline": "河口水位超警戒",
    "body": "河口站水位超过警戒水位0.5米。",
    "instruction": "低洼地区人员做好转移准备。",
    "zones": ["V1"],
    "channels": ["sms"],
}
TOO_LONG = "特" * 36  # the headline variable takes 35 characters


@pytest.fixture
def config(tmp_path: Path, acme_sms: Path) -> Path:
    return config_with_book(tmp_path)


@pytest.fixture
def api(db: Database, tmp_path: Path, config: Path) -> Iterator[TestClient]:
    settings = Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="https://jz.example.cn",
        config_dir=config,
        # Acme first, Twilio (free text) second; calls by Twilio only (free text too)
        media={"sms": ["acme", "twilio"], "voice": ["twilio"]},
    )
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(3):
            f.household(session, grid=zones["G1"])
    with TestClient(create_app(settings, db)) as client:
        yield client


def alerts_and_deliveries(db: Database) -> tuple[int, int]:
    with db.read() as session:
        alerts = session.scalar(select(func.count()).select_from(Alert)) or 0
        deliveries = session.scalar(select(func.count()).select_from(Delivery)) or 0
    return alerts, deliveries


def assert_refused(answer: Any) -> None:
    assert answer.status_code == 422, answer.text
    got = answer.json()
    assert got["provider"] == "sms_acme"
    assert got["variable"] == "headline"
    assert got["field"] == "headline"
    assert "36" in got["reason"]
    assert "35" in got["reason"]
    assert "sms_acme" in got["message"]
    assert "headline" in got["message"]
    assert "超过上限" in got["message"]  # zh-CN first, English after


def test_the_preview_shows_what_each_template_only_provider_sends(
    api: TestClient, role_keys: dict[Role, str]
) -> None:
    answer = api.post("/api/v1/alerts/preview", json=ALERT, headers=auth(role_keys[Role.officer]))
    assert answer.status_code == 200, answer.text
    shown = answer.json()["templates"]
    assert [(t["medium"], t["provider"], t["kind"]) for t in shown] == [
        ("sms", "sms_acme", "alert")
    ]  # Twilio sends our own text: it has no book
    acme = shown[0]
    assert acme["code"] == "SMS_480000110"
    assert acme["text"].startswith(
        "【防汛抗旱指挥部】防汛抗旱指挥部发布橙色洪水预警：河口水位超警戒。"
    )
    assert "https://jz.example.cn/c/" + acme["params"]["token"] in acme["text"]
    assert acme["length"] == len(acme["text"])
    assert acme["segments"] == (1 if acme["length"] <= 70 else -(-acme["length"] // 67))
    assert acme["segments"] == 2


def test_a_value_over_its_limit_is_refused_at_preview_and_issue(
    api: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    officer = auth(role_keys[Role.officer])
    long = {**ALERT, "headline": TOO_LONG}
    assert_refused(api.post("/api/v1/alerts/preview", json=long, headers=officer))
    assert_refused(api.post("/api/v1/alerts", json=long, headers=officer))
    assert alerts_and_deliveries(db) == (0, 0)
    fits = {**ALERT, "headline": TOO_LONG[:35]}
    assert api.post("/api/v1/alerts", json=fits, headers=officer).status_code == 201


def test_an_update_over_the_limit_is_refused_and_changes_nothing(
    api: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    officer = auth(role_keys[Role.officer])
    alert = api.post("/api/v1/alerts", json=ALERT, headers=officer).json()
    before = alerts_and_deliveries(db)
    raised = {"level": "red", "headline": TOO_LONG}
    url = f"/api/v1/alerts/{alert['id']}/update"
    assert_refused(api.post(url + "/preview", json=raised, headers=officer))
    assert_refused(api.post(url, json=raised, headers=officer))
    assert alerts_and_deliveries(db) == before
    with db.read() as session:
        kept = session.get_one(Alert, alert["id"])
        assert (kept.revision, kept.headline, kept.level.value) == (1, ALERT["headline"], "orange")
    evacuate = api.post(url + "/preview", json={"evacuate": True}, headers=officer)
    assert evacuate.status_code == 200, evacuate.text
    (shown,) = evacuate.json()["templates"]
    assert (shown["kind"], shown["code"]) == ("evacuate", "SMS_480000112")
    assert "发布转移令：河口水位超警戒。" in shown["text"]
    cleared = api.post(f"/api/v1/alerts/{alert['id']}/all-clear/preview", headers=officer)
    assert [t["kind"] for t in cleared.json()["templates"]] == ["all_clear"]


def test_approval_refuses_what_the_book_no_longer_carries(
    api: TestClient, role_keys: dict[Role, str], db: Database, config: Path
) -> None:
    red = {**ALERT, "level": "red"}  # a feed's red alert waits for an officer
    held = api.post("/api/v1/alerts", json=red, headers=auth(role_keys[Role.feed])).json()
    assert held["state"] == "pending_approval"
    write_book(config, headline_max=5)  # the approved template changed meanwhile
    url = f"/api/v1/alerts/{held['id']}/approve"
    answer = api.post(url, headers=auth(role_keys[Role.officer]))
    assert answer.status_code == 422, answer.text
    assert (answer.json()["variable"], answer.json()["provider"]) == ("headline", "sms_acme")
    with db.read() as session:
        assert session.get_one(Alert, held["id"]).state is AlertState.pending_approval
    assert alerts_and_deliveries(db)[1] == 0


def test_a_provider_without_a_book_sends_free_text(tmp_path: Path, acme_sms: Path) -> None:
    config = config_with_book(tmp_path)
    where = Deployment(config_dir=config, public_base="https://x.example")
    classes: dict[str, type[Channel[Any]]] = dict(registered())
    book = classes["sms_acme"].template_book(where)
    assert book is not None
    assert book.templates["alert"].code == "SMS_480000110"
    assert classes["sms"].template_book(where) is None
    assert classes["sms_acme"].template_book(Deployment()) is None


def test_lifting_an_alert_is_never_stopped_by_a_template(
    api: TestClient, role_keys: dict[Role, str], db: Database, config: Path
) -> None:
    officer = auth(role_keys[Role.officer])
    alert = api.post("/api/v1/alerts", json=ALERT, headers=officer).json()
    write_book(config, headline_max=5)  # the all-clear's headline no longer fits
    url = f"/api/v1/alerts/{alert['id']}/all-clear"
    shown = api.post(url + "/preview", headers=officer)
    assert shown.status_code == 200, shown.text
    (acme,) = shown.json()["templates"]
    assert (acme["provider"], acme["code"], acme["text"]) == ("sms_acme", "", "")
    assert "headline" in acme["refused"]
    assert "超过上限" in acme["refused"]
    lifted = api.post(url, headers=officer)
    assert lifted.status_code == 200, lifted.text
    with db.read() as session:
        assert session.get_one(Alert, alert["id"]).state is AlertState.closed


def test_a_drill_previews_the_drill_template(api: TestClient, role_keys: dict[Role, str]) -> None:
    drill = {**ALERT, "status": "exercise"}
    answer = api.post("/api/v1/alerts/preview", json=drill, headers=auth(role_keys[Role.officer]))
    assert answer.status_code == 200, answer.text
    (acme,) = answer.json()["templates"]
    assert "演练" in acme["text"]
    assert acme["code"] != "SMS_480000110"  # the drill twin, approved as a drill's


def test_the_aliyun_voice_plugin_previews_its_tts_template(
    db: Database, tmp_path: Path, role_keys: dict[Role, str]
) -> None:
    if "voice_aliyun" not in registered():
        pytest.skip("the Aliyun voice plugin is not installed")
    settings = Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="https://jz.example.cn",
        media={"voice": ["aliyun", "twilio"], "sms": ["twilio"]},
    )
    with db.transaction() as session:
        f.household(session, grid=f.zone_tree(session)["G1"])
    red = {**ALERT, "level": "red", "channels": ["sms", "voice"]}
    officer = auth(role_keys[Role.officer])
    with TestClient(create_app(settings, db)) as client:
        shown = client.post("/api/v1/alerts/preview", json=red, headers=officer)
        refused = client.post(
            "/api/v1/alerts/preview", json={**red, "headline": TOO_LONG}, headers=officer
        )
    assert shown.status_code == 200, shown.text
    (call,) = shown.json()["templates"]
    assert (call["medium"], call["provider"], call["code"]) == (
        "voice",
        "voice_aliyun",
        "TTS_310000110",
    )
    assert "河口水位超警戒" in call["text"]
    assert refused.status_code == 422
    assert (refused.json()["provider"], refused.json()["variable"]) == ("voice_aliyun", "headline")
