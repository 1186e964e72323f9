"""Every attempt at a household's messages is shown: on the console's page of one household
under an alert (Chinese first, English too) and in the API's recipients list."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Recipient
from broadcaster.auth.models import Role
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.ledger import claim
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.registry.models import Household
from broadcaster.settings import Settings
from channels.base import Outcome, SendResult
from tests.api_fixtures import auth
from tests.integration.console_support import login, seed, users
from tests.integration.ledger_support import record


def refused_then_delivered(db: Database, alert_id: int, code: str) -> None:
    """The household's SMS: refused once (nothing sent), then sent again and delivered."""
    with db.read() as session:
        target = session.scalar(
            select(Delivery.id)
            .join(Recipient, Recipient.id == Delivery.recipient_id)
            .join(Household, Household.id == Recipient.household_id)
            .where(Recipient.alert_id == alert_id, Household.code == code)
        )
    assert target is not None
    for answer in (
        SendResult(target, Outcome.retry, error_code="20500"),
        SendResult(target, Outcome.accepted, "SM5ca1ab1e"),
    ):
        with db.transaction() as session:
            lease = claim(
                session, alert_id=alert_id, channel="sms", limit=100, lease_seconds=10, now=utcnow()
            )
        record(db, lease.token, answer)
    with db.transaction() as session:
        apply_reports(
            session, [StatusReport(target, "SM5ca1ab1e", DeliveryState.delivered)], utcnow()
        )


def test_household_page_lists_the_attempts(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seeded = seed(db, settings, households=2)
    code = seeded.household_codes[0]
    refused_then_delivered(db, seeded.alert_id, code)
    login(client, "officer")
    url = f"/console/alerts/{seeded.alert_id}/households/{code}"
    assert url in client.get(f"/console/alerts/{seeded.alert_id}").text  # linked from the table
    answer = client.get(url)
    assert answer.status_code == 200
    text = answer.text
    rows = text[text.index("发送尝试") :]
    assert rows.index("未送出，已重发") < rows.index("20500") < rows.index("已送达")
    assert "SM5ca1ab1e" in rows
    assert rows.count("<td>短信</td>") == 2  # the provider of each attempt
    assert "+8613800000000" not in text  # phones masked
    assert "138****0000" in text
    english = client.get(url + "?lang=en").text
    for words in ("Send attempts", "Not sent; sent again", "Provider", "Error code", "20500"):
        assert words in english
    assert client.get(f"/console/alerts/{seeded.alert_id}/households/NOPE").status_code == 404


def test_household_page_without_attempts(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seeded = seed(db, settings, households=1)
    login(client, "officer")
    text = client.get(f"/console/alerts/{seeded.alert_id}/households/{seeded.household_codes[0]}")
    assert text.status_code == 200
    assert "尚无发送尝试。" in text.text
    assert "排队中" in text.text


def test_recipients_api_lists_the_attempts(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    seeded = seed(db, settings, households=2)
    code = seeded.household_codes[0]
    refused_then_delivered(db, seeded.alert_id, code)
    page = client.get(
        f"/api/v1/alerts/{seeded.alert_id}/recipients", headers=auth(role_keys[Role.officer])
    ).json()
    items = {item["household_code"]: item for item in page["items"]}
    attempts = items[code]["attempts"]
    assert [
        (a["number"], a["provider"], a["outcome"], a["error_code"], a["provider_message_id"])
        for a in attempts
    ] == [(1, "sms", "superseded", "20500", None), (2, "sms", "delivered", None, "SM5ca1ab1e")]
    assert {a["delivery"] for a in attempts} == set(items[code]["deliveries"]) == {"sms:0000"}
    assert all(a["requested_at"] and a["finished_at"] for a in attempts)
    others = [item for c, item in items.items() if c != code]
    assert [a["outcome"] for item in others for a in item["attempts"]] == ["sending"]
