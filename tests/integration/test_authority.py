"""Authority follows the issuer: a feed updates or cancels only the alerts it issued itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Alert
from broadcaster.auth import service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import AuditEvent, Role
from broadcaster.db.database import Database
from broadcaster.feeds.cap.values import format_datetime
from broadcaster.flows.polling import poll_due
from tests.api_fixtures import auth
from tests.factories.alerts import RED_RAIN
from tests.integration.feeds_support import cap_document, counts, post_cap, region_registry
from tests.integration.test_feeds_polling import FeedServer, server, settings_for

__all__ = ["server"]  # the polled-feed fixture


def snapshot(db: Database, alert_id: int) -> dict[str, Any]:
    """What a hijack would change: the text, area, state and CAP history of the alert."""
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return {
            "headline": alert.headline,
            "body": alert.body,
            "level": alert.level,
            "zones": list(alert.zone_codes),
            "state": alert.state,
            "msg_type": alert.msg_type,
            "references": alert.references,
            "households": alert.households_targeted,
        }


def refusals(db: Database) -> list[AuditEvent]:
    with db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "alert.refused")))


def reference_to(alert: dict[str, Any]) -> str:
    """The CAP reference of one of our alerts, as anyone can read it at /cap/alerts/{id}.xml."""
    sent = format_datetime(dt.datetime.fromisoformat(alert["created_at"]))
    return f"{alert['sender']},{alert['identifier']},{sent}"


def officer_alert(client: TestClient, key: str) -> dict[str, Any]:
    body = {**RED_RAIN, "level": "yellow", "zones": ["JB"]}
    answer = client.post("/api/v1/alerts", json=body, headers=auth(key))
    assert answer.status_code == 201, answer.text
    alert: dict[str, Any] = answer.json()
    return alert


def second_feed_key(db: Database) -> str:
    with db.transaction() as session:
        user = service.create_user(session, username="other-feed", role=Role.feed, actor=SYSTEM)
        return service.create_api_key(session, user=user, actor=SYSTEM)[1]


def test_a_feed_key_cannot_update_or_cancel_an_officers_alert(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    alert = officer_alert(client, role_keys[Role.officer])
    before, rows = snapshot(db, alert["id"]), counts(db)
    hijack = cap_document(
        "EVIL-1",
        sender=alert["sender"],
        msg_type="Update",
        references=reference_to(alert),
        headline="已解除，无需转移",
        geocodes=("500105", "500112", "500108"),  # widened to every district
    )
    refused = post_cap(client, role_keys[Role.feed], hijack)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "not_issuer"
    assert refused.json()["alert_id"] == alert["id"]
    assert "may not update" in refused.json()["message"]
    cancel = cap_document("EVIL-2", msg_type="Cancel", references=reference_to(alert))
    refused = post_cap(client, role_keys[Role.feed], cancel)
    assert refused.status_code == 403, refused.text
    assert "may not cancel" in refused.json()["message"]
    assert snapshot(db, alert["id"]) == before  # headline, zones, state: unchanged
    assert counts(db) == rows  # not one new delivery, recipient or message
    audited = refusals(db)
    assert [(e.object_id, e.detail["attempted"]) for e in audited] == [
        (str(alert["id"]), "update"),
        (str(alert["id"]), "cancel"),
    ]
    assert all(e.actor.startswith("user:u-feed/key:") for e in audited)
    # The officer still may.
    officer = auth(role_keys[Role.officer])
    assert client.post(f"/api/v1/alerts/{alert['id']}/cancel", headers=officer).status_code == 200


def test_a_feed_updates_and_cancels_its_own_alert_but_not_another_feeds(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    feed, other = role_keys[Role.feed], second_feed_key(db)
    first = post_cap(client, feed, cap_document("CMA-1", geocodes=("500105",))).json()["alert"]
    reference = "cma@example.cn,CMA-1,2024-07-01T08:00:00+08:00"
    update = cap_document(
        "CMA-2", msg_type="Update", references=reference, geocodes=("500105", "500112")
    )
    before, rows = snapshot(db, first["id"]), counts(db)
    stranger = post_cap(client, other, update)
    assert stranger.status_code == 403, stranger.text
    assert (snapshot(db, first["id"]), counts(db)) == (before, rows)
    own = post_cap(client, feed, update)
    assert (own.status_code, own.json()["action"]) == (200, "updated")
    assert own.json()["households_added"] == 3
    cancel = cap_document("CMA-3", msg_type="Cancel", references=reference)
    assert post_cap(client, other, cancel).status_code == 403
    assert snapshot(db, first["id"])["state"] == "sending"
    done = post_cap(client, feed, cancel)
    assert (done.status_code, done.json()["action"]) == (200, "cancelled")
    assert [e.detail["attempted"] for e in refusals(db)] == ["update", "cancel"]


def test_an_admin_may_cancel_a_feeds_alert_by_cap_and_by_the_api(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    feed = role_keys[Role.feed]
    one = post_cap(client, feed, cap_document("A-1", geocodes=("500105",))).json()["alert"]
    two = post_cap(client, feed, cap_document("A-2", geocodes=("500105",))).json()["alert"]
    cancel = cap_document(
        "A-3", msg_type="Cancel", references="cma@example.cn,A-1,2024-07-01T08:00:00+08:00"
    )
    assert post_cap(client, role_keys[Role.admin], cancel).json()["action"] == "cancelled"
    admin = auth(role_keys[Role.admin])
    assert client.post(f"/api/v1/alerts/{two['id']}/cancel", headers=admin).status_code == 200
    assert snapshot(db, one["id"])["state"] == snapshot(db, two["id"])["state"] == "cancelled"
    assert refusals(db) == []


def test_a_polled_feed_cannot_touch_an_officers_or_a_pushing_feeds_alert(
    client: TestClient,
    role_keys: dict[Role, str],
    db: Database,
    server: FeedServer,
    tmp_path: Path,
) -> None:
    region_registry(db)
    alert = officer_alert(client, role_keys[Role.officer])
    pushed = post_cap(client, role_keys[Role.feed], cap_document("P-1", geocodes=("500105",)))
    pushed_id = pushed.json()["alert"]["id"]
    before = (snapshot(db, alert["id"]), snapshot(db, pushed_id))
    rows = counts(db)
    server.documents["u"] = cap_document(
        "POLL-U", msg_type="Update", references=reference_to(alert), headline="改写"
    )
    server.documents["c"] = cap_document(
        "POLL-C", msg_type="Cancel", references="cma@example.cn,P-1,2024-07-01T08:00:00+08:00"
    )
    server.entries += [("u", "2024-07-01T09:00:00+08:00"), ("c", "2024-07-01T09:10:00+08:00")]
    settings = settings_for(server, tmp_path)
    now = dt.datetime.now(dt.UTC)
    report = poll_due(db, settings, None, now=now)
    assert report == {settings.feeds.poll[0].url: {"rejected": 2}}
    assert (snapshot(db, alert["id"]), snapshot(db, pushed_id)) == before
    assert counts(db) == rows
    assert {e.actor for e in refusals(db)} == {"feed:测试台"}
    # Its own alerts it updates and cancels, as before.
    server.documents["own"] = cap_document("POLL-1", geocodes=("500105",))
    server.documents["own-c"] = cap_document(
        "POLL-2", msg_type="Cancel", references="cma@example.cn,POLL-1,2024-07-01T08:00:00+08:00"
    )
    server.entries += [
        ("own", "2024-07-01T10:00:00+08:00"),
        ("own-c", "2024-07-01T10:10:00+08:00"),
    ]
    server.version = 2
    report = poll_due(db, settings, None, now=now + dt.timedelta(seconds=61))
    assert report == {settings.feeds.poll[0].url: {"issued": 1, "cancelled": 1}}


def test_an_idempotency_key_belongs_to_its_caller(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    region_registry(db)
    body = {**RED_RAIN, "level": "yellow", "zones": ["JB"]}
    key = {"Idempotency-Key": "storm-2024-07-01"}
    officer = {**auth(role_keys[Role.officer]), **key}
    first = client.post("/api/v1/alerts", json=body, headers=officer)
    mine_again = client.post("/api/v1/alerts", json=body, headers=officer)
    assert (first.status_code, mine_again.status_code) == (201, 200)
    assert mine_again.json()["id"] == first.json()["id"]
    theirs = client.post(
        "/api/v1/alerts", json=body, headers={**auth(role_keys[Role.admin]), **key}
    )
    assert theirs.status_code == 201, theirs.text  # their own alert, not the officer's
    assert theirs.json()["id"] != first.json()["id"]
    other_body = client.post(
        "/api/v1/alerts",
        json={**body, "headline": "另一条"},
        headers={**auth(role_keys[Role.feed]), **key},
    )
    assert other_body.status_code == 201  # a third caller: no conflict with anyone else's key
    clash = client.post("/api/v1/alerts", json={**body, "zones": ["YB"]}, headers=officer)
    assert clash.status_code == 409
    assert set(clash.json()) == {"error", "message", "field"}  # no alert id given away
    assert str(first.json()["id"]) not in clash.text
    with db.read() as session:
        assert len(list(session.scalars(select(Alert.id)))) == 3


def test_a_polled_feed_takes_only_its_configured_upstream_senders(
    db: Database, server: FeedServer, tmp_path: Path
) -> None:
    region_registry(db)
    settings = settings_for(server, tmp_path)
    source = settings.feeds.poll[0].model_copy(update={"senders": ["cma@example.cn"]})
    settings = settings.model_copy(
        update={"feeds": settings.feeds.model_copy(update={"poll": [source]})}
    )
    server.documents["good"] = cap_document("S-1")
    server.documents["bad"] = cap_document("S-2", sender="someone-else@example.cn")
    server.entries += [("good", "2024-07-01T08:00:00+08:00"), ("bad", "2024-07-01T08:10:00+08:00")]
    report = poll_due(db, settings, None, now=dt.datetime.now(dt.UTC))
    assert report == {source.url: {"issued": 1, "rejected": 1}}
    with db.read() as session:
        assert list(session.scalars(select(Alert.sender))) == ["cma@example.cn"]
