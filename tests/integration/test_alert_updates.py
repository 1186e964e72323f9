"""POST /api/v1/alerts/{id}/update: revisions kept; a raised level or an evacuation order asks
every household again (a new round, the last one's answers kept); corrections keep
confirmations; a narrowed area tells those left out; bad input changes nothing."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.alerts.models import (
    Alert,
    AlertRevision,
    Recipient,
    RecipientRound,
    RecipientState,
)
from broadcaster.app import create_app
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Confirmation
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState, LoudspeakerTask, TaskState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.registry.models import Household, Person
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.test_confirm import sms, token

ORANGE: dict[str, Any] = {
    "hazard": "rain",
    "level": "orange",
    "headline": "暴雨橙色预警",
    "body": "预计未来6小时降雨量将达50毫米以上。",
    "instruction": "危险区人员做好转移准备。",
}
R = RecipientState


def village(db: Database, households: int = 5) -> list[int]:
    """V1 with a WeCom robot, a loudspeaker, and households in G1 (and one in G2)."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        f.wecom_group(session, zone=zones["V1"], key="robot-key-0123456789")
        f.loudspeaker(session, zone=zones["V1"])
        ids = [f.household(session, grid=zones["G1"]).id for _ in range(households - 1)]
        ids.append(f.household(session, grid=zones["G2"]).id)
    return ids


def issue(client: TestClient, key: str, **overrides: Any) -> dict[str, Any]:
    created = client.post(
        "/api/v1/alerts", json={**ORANGE, "zones": ["V1"], **overrides}, headers=auth(key)
    )
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def states(db: Database, alert_id: int) -> dict[int, RecipientState]:
    with db.read() as session:
        rows = session.execute(
            select(Recipient.household_id, Recipient.state).where(Recipient.alert_id == alert_id)
        )
        return {int(row[0]): row[1] for row in rows}


def confirm(client: TestClient, db: Database, settings: Settings, alert_id: int, n: int) -> None:
    """The first `n` households confirm by their personal link."""
    with db.read() as session:
        people = list(session.scalars(select(Person).order_by(Person.household_id).limit(n)))
        session.expunge_all()
    for person in people:
        answer = client.post(f"/c/{token(settings, alert_id, person)}", data={"answer": "safe"})
        assert answer.status_code == 200, answer.text


def fresh_counts(client: TestClient, alert_id: int, key: str) -> dict[str, Any]:
    """The alert's counts as of now: a count that was slow to compute (a busy machine) is
    served for up to a second, and says so in `counts_age_ms`; ask again until it is fresh."""
    deadline = time.monotonic() + 10
    while True:
        detail = client.get(f"/api/v1/alerts/{alert_id}", headers=auth(key)).json()
        if detail["counts_age_ms"] == 0:
            return dict(detail["counts"])
        assert time.monotonic() < deadline, "no fresh counts within 10 s"
        time.sleep(0.1)


def deliveries(db: Database, alert_id: int) -> list[Delivery]:
    with db.read() as session:
        rows = list(session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)))
        session.expunge_all()
    return rows


def test_an_evacuation_order_at_red_asks_every_household_again_and_keeps_the_last_round(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    households = village(db)
    officer = role_keys[Role.officer]
    alert = issue(client, officer)
    assert alert["channels"] == ["sms", "wecom_group", "loudspeaker"]
    orange_sms = {d.id for d in deliveries(db, alert["id"]) if d.channel == "sms"}
    fa.mark_sent(db, alert["id"])
    confirm(client, db, settings, alert["id"], 3)
    assert sorted(states(db, alert["id"]).values()).count(R.confirmed) == 3

    body = {"level": "red", "evacuate": True, "instruction": "请立即转移到安全地带。"}
    changed = client.post(f"/api/v1/alerts/{alert['id']}/update", json=body, headers=auth(officer))
    assert changed.status_code == 200, changed.text
    out = changed.json()
    assert (out["revision"], out["kind"], out["asks_again"]) == (2, "update", True)
    assert out["households_asked"] == 5
    assert out["deliveries"] == {"sms": 5, "voice": 5, "wecom_group": 1, "loudspeaker": 1}
    assert out["alert"]["evacuate"] is True

    counts = fresh_counts(client, alert["id"], officer)
    assert (counts["households_confirmed"], counts["households_pending"]) == (0, 5)
    assert (counts["revision"], counts["round"]) == (2, 2)
    assert set(states(db, alert["id"])) == set(households)
    planned = [d for d in deliveries(db, alert["id"]) if d.revision == 2]
    assert len({d.recipient_id for d in planned if d.channel == "sms"}) == 5  # confirmed too
    with db.read() as session:
        kept = dict(
            session.execute(
                select(RecipientRound.state, func.count())
                .where(RecipientRound.round == 1)
                .group_by(RecipientRound.state)
            ).all()
        )
        assert kept == {R.confirmed: 3, R.pending: 2}
        assert set(session.scalars(select(Confirmation.round))) == {1}
        tasks = dict(session.execute(select(LoudspeakerTask.revision, LoudspeakerTask.state)).all())
        assert tasks == {1: TaskState.cancelled, 2: TaskState.open}
        red = session.get_one(Alert, alert["id"])  # escalation restarts from red's policy
        due = set(session.scalars(select(Recipient.next_action_at)))
        assert red.round_at is not None
        assert due == {red.round_at + dt.timedelta(minutes=10)}  # red: voice again at 10 min
        assert set(session.scalars(select(Recipient.stage))) == {0}
        revisions = list(session.scalars(select(AlertRevision).order_by(AlertRevision.number)))
        assert [(r.number, r.level.value, r.evacuate) for r in revisions] == [
            (1, "orange", False),
            (2, "red", True),
        ]
        late = session.scalar(select(Delivery).where(Delivery.id.in_(orange_sms)).limit(1))
        assert late is not None
        late_id, late_sid, late_household = late.id, late.provider_id, late.recipient_id
    # a late "delivered" for the orange SMS reaches nobody in the red round
    with db.transaction() as session:
        apply_reports(
            session, [StatusReport(late_id, late_sid or "", DeliveryState.delivered)], utcnow()
        )
        assert session.get_one(Recipient, late_household).state is R.pending

    history = client.get(f"/api/v1/alerts/{alert['id']}/revisions", headers=auth(officer)).json()
    assert [r["households"] for r in history["revisions"]] == [
        {"confirmed": 3, "pending": 2},
        {"pending": 5},
    ]
    confirm(client, db, settings, alert["id"], 1)
    again = fresh_counts(client, alert["id"], officer)
    assert again["households_confirmed"] == 1
    with db.read() as session:
        assert sorted(session.scalars(select(Confirmation.round))) == [1, 1, 1, 2]


def test_a_reply_that_cannot_answer_the_new_round_is_kept_for_the_last(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    """ "1" to the orange SMS arriving after the red was issued, before the red SMS went out:
    kept, counted for the orange round, the household still asked about the red."""
    village(db, households=2)
    officer = role_keys[Role.officer]
    alert = issue(client, officer, channels=["sms"])
    fa.mark_sent(db, alert["id"])
    changed = client.post(
        f"/api/v1/alerts/{alert['id']}/update", json={"level": "red"}, headers=auth(officer)
    )
    assert changed.json()["asks_again"] is True
    with db.read() as session:
        phone = session.scalars(select(Person.phone).order_by(Person.id)).first()
    assert sms(client, settings, phone or "", "1", "SMlate1").status_code == 200
    assert list(states(db, alert["id"]).values()) == [R.pending, R.pending]
    with db.read() as session:
        assert session.scalars(select(Confirmation.round)).all() == [1]
    fa.mark_sent(db, alert["id"])  # the red SMS went out
    assert sms(client, settings, phone or "", "1", "SMlate2").status_code == 200
    assert sorted(states(db, alert["id"]).values()) == [R.confirmed, R.pending]


def test_a_correction_tells_those_already_sent_and_keeps_their_confirmations(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village(db)
    officer = role_keys[Role.officer]
    alert = issue(client, officer, channels=["sms"])
    fa.mark_sent(db, alert["id"])
    confirm(client, db, settings, alert["id"], 2)
    body = {"body": "预计未来6小时降雨量将达80毫米以上。"}
    out = client.post(f"/api/v1/alerts/{alert['id']}/update", json=body, headers=auth(officer))
    assert out.status_code == 200, out.text
    assert (out.json()["asks_again"], out.json()["households_notified"]) == (False, 5)
    assert out.json()["deliveries"] == {"sms": 5}
    assert sorted(states(db, alert["id"]).values()).count(R.confirmed) == 2
    lowered = client.post(
        f"/api/v1/alerts/{alert['id']}/update", json={"level": "yellow"}, headers=auth(officer)
    )
    assert lowered.json()["asks_again"] is False
    assert sorted(states(db, alert["id"]).values()).count(R.confirmed) == 2


def test_a_narrowed_area_tells_the_households_left_out_and_a_widened_one_reaches_new_ones(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    households = village(db)
    officer = role_keys[Role.officer]
    alert = issue(client, officer, channels=["sms"])
    fa.mark_sent(db, alert["id"])
    out = client.post(
        f"/api/v1/alerts/{alert['id']}/update", json={"zones": ["G1"]}, headers=auth(officer)
    )
    assert out.status_code == 200, out.text
    assert (out.json()["households_released"], out.json()["households_targeted"]) == (1, 4)
    assert out.json()["deliveries"] == {"sms": 1}
    told = [d for d in deliveries(db, alert["id"]) if d.notice == "released"]
    assert len(told) == 1
    assert states(db, alert["id"])[households[-1]] is R.released
    counts = fresh_counts(client, alert["id"], officer)
    assert (counts["households_targeted"], counts["households_released"]) == (4, 1)
    back = client.post(
        f"/api/v1/alerts/{alert['id']}/update", json={"zones": ["V1"]}, headers=auth(officer)
    )
    assert back.json()["households_added"] == 1
    assert states(db, alert["id"])[households[-1]] is R.pending


def test_bad_updates_name_the_field_and_change_nothing(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village(db)
    officer = role_keys[Role.officer]
    alert = issue(client, officer, channels=["sms"])
    url = f"/api/v1/alerts/{alert['id']}/update"
    before = len(deliveries(db, alert["id"]))
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"zones": ["NOPE"]}, 422, "zones"),
        ({"zones": ["H1"]}, 422, "zones"),  # a hazard zone with no household: nobody left
        ({}, 422, "body"),
        ({"level": "purple"}, 422, "level"),
        ({"expires_at": "2001-01-01T00:00:00+08:00"}, 422, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00"}, 422, "expires_at"),
        ({"headline": ""}, 422, "headline"),
        ({"headline": ORANGE["headline"]}, 422, "headline"),  # nothing would change
        ({"colour": "red"}, 422, "colour"),
    ]
    for body, status, fieldname in cases:
        answer = client.post(url, json=body, headers=auth(officer))
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["field"] == fieldname, (body, answer.json())
    refused = client.post(url, json={"level": "red"}, headers=auth(role_keys[Role.feed]))
    assert refused.status_code == 403
    with db.read() as session:
        kept = session.get_one(Alert, alert["id"])
        assert (kept.revision, kept.level.value) == (1, "orange")
        assert session.scalar(select(func.count()).select_from(AlertRevision)) == 0
    assert len(deliveries(db, alert["id"])) == before
    assert client.post(f"/api/v1/alerts/{alert['id']}/cancel", headers=auth(officer)).is_success
    ended = client.post(url, json={"level": "red"}, headers=auth(officer))
    assert ended.status_code == 409


def test_a_preview_shows_what_an_update_would_send_and_changes_nothing(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village(db)
    officer = role_keys[Role.officer]
    alert = issue(client, officer)
    fa.mark_sent(db, alert["id"])
    before = len(deliveries(db, alert["id"]))
    body = {"level": "red", "evacuate": True}
    shown = client.post(
        f"/api/v1/alerts/{alert['id']}/update/preview", json=body, headers=auth(officer)
    )
    assert shown.status_code == 200, shown.text
    preview = shown.json()
    assert preview["households_asked"] == 5
    assert preview["deliveries"]["sms"] == 5
    assert preview["texts"]["sms"].startswith("【转移令】")
    assert "红色" in preview["texts"]["wecom_group"]
    assert len(deliveries(db, alert["id"])) == before
    with db.read() as session:
        assert session.get_one(Alert, alert["id"]).revision == 1
        assert session.scalar(select(func.count()).select_from(Household)) == 5


def test_the_level_policy_may_make_a_correction_ask_again(
    db: Database, tmp_path: Path, role_keys: dict[Role, str]
) -> None:
    """reconfirm_corrections = true: a new text alone starts a new round."""
    config = tmp_path / "config"
    shutil.copytree(PACKAGE_CONFIG_DIR / "templates", config / "templates")
    policies = (PACKAGE_CONFIG_DIR / "policies.toml").read_text(encoding="utf-8")
    (config / "policies.toml").write_text(
        policies.replace("[orange]\n", "[orange]\nreconfirm_corrections = true\n"),
        encoding="utf-8",
    )
    settings = Settings(
        env="test", data_dir=tmp_path / "var", public_base_url="http://testserver",
        config_dir=config,
    )  # fmt: skip
    village(db, households=3)
    with TestClient(create_app(settings, db)) as client:
        officer = role_keys[Role.officer]
        alert = issue(client, officer, channels=["sms"])
        fa.mark_sent(db, alert["id"])
        confirm(client, db, settings, alert["id"], 2)
        body = {"body": "降雨加强，预计未来6小时降雨量将达80毫米以上。"}
        out = client.post(f"/api/v1/alerts/{alert['id']}/update", json=body, headers=auth(officer))
    assert out.status_code == 200, out.text
    assert (out.json()["asks_again"], out.json()["households_asked"]) == (True, 3)
    assert list(states(db, alert["id"]).values()) == [R.pending] * 3
