"""Confirmation paths: personal links (GET never confirms), SMS replies, help requests."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from twilio.request_validator import RequestValidator

from broadcaster.alerts.models import Alert, AlertState, Recipient, RecipientState
from broadcaster.alerts.tokens import make_token
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Confirmation, HelpRequest, InboundMessage
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.flows.replies import Inbound, inbound_committer
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f

INBOUND = "/hooks/twilio/sms/inbound"
SMS = "sms"  # the medium replies answer


def setup(db: Database, settings: Settings, households: int = 3) -> tuple[int, list[Person]]:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(households):
            f.household(session, grid=zones["G1"])
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    with db.read() as session:
        people = list(session.scalars(select(Person).order_by(Person.id)))
        session.expunge_all()
    return alert_id, people


def token(settings: Settings, alert_id: int, person: Person) -> str:
    return make_token(settings.secret_key.get_secret_value().encode(), alert_id, person.id)


def household_states(db: Database) -> list[RecipientState]:
    with db.read() as session:
        return list(session.scalars(select(Recipient.state).order_by(Recipient.id)))


def state_of(db: Database, person: Person) -> RecipientState:
    """The state of the person's household (recipient ids follow no household order on
    PostgreSQL: planning inserts equal-priority households in whatever order its join gives)."""
    with db.read() as session:
        state = session.scalar(
            select(Recipient.state).where(Recipient.household_id == person.household_id)
        )
    assert state is not None
    return state


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_get_shows_and_never_confirms_post_confirms(
    client: TestClient, db: Database, settings: Settings
) -> None:
    alert_id, people = setup(db, settings)
    link = f"/c/{token(settings, alert_id, people[0])}"
    for _ in range(3):  # chat-app previews and link scanners
        page = client.get(link)
        assert page.status_code == 200
        assert "暴雨红色预警" in page.text
        assert 'method="post"' in page.text
    assert household_states(db) == [RecipientState.pending] * 3
    assert count(db, Confirmation) == 0
    done = client.post(link, data={"answer": "safe"})
    assert done.status_code == 200
    assert "谢谢" in done.text
    assert state_of(db, people[0]) is RecipientState.confirmed
    with db.read() as session:
        queued = session.scalars(
            select(Delivery.state)
            .join(Recipient)
            .where(Recipient.household_id == people[0].household_id)
        ).all()
    assert set(queued) == {DeliveryState.cancelled}  # nothing more goes to a confirmed household
    assert "已记录" in client.get(link).text


def test_bad_links_get_clear_pages_and_change_nothing(
    client: TestClient, db: Database, settings: Settings
) -> None:
    alert_id, people = setup(db, settings)
    good = token(settings, alert_id, people[0])
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    forged = make_token(b"another-secret", alert_id, people[0].id)
    for bad in (tampered, forged, "x", "not-a-token-at-all", "A" * 60):
        assert client.get(f"/c/{bad}").status_code == 404
        assert client.post(f"/c/{bad}", data={"answer": "safe"}).status_code == 404
    unknown = client.post(f"/c/{good}", data={"answer": "maybe"})
    assert unknown.status_code == 422
    with db.transaction() as session:
        session.execute(
            update(Alert).values(
                state=AlertState.cancelled, closed_at=utcnow() - dt.timedelta(days=3)
            )
        )
    expired = client.post(f"/c/{good}", data={"answer": "safe"})
    assert expired.status_code == 410
    assert "过期" in expired.text
    assert count(db, Confirmation) == 0
    assert household_states(db) == [RecipientState.pending] * 3


def sms(
    client: TestClient,
    settings: Settings,
    sender: str,
    body: str,
    sid: str,
    signature_token: str | None = None,
):  # type: ignore[no-untyped-def]
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "AccountSid": settings.twilio.account_sid,
        "NumMedia": "0",
    }
    validator = RequestValidator(signature_token or settings.twilio.auth_token.get_secret_value())
    signature = validator.compute_signature(f"{settings.public_base_url}{INBOUND}", params)
    return client.post(INBOUND, data=params, headers={"X-Twilio-Signature": signature})


def test_sms_replies_confirm_ask_for_help_and_are_always_kept(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    _alert_id, people = setup(db, settings)
    assert sms(client, settings, people[0].phone, " 1 ", "SM1").status_code == 200
    assert sms(client, settings, people[1].phone, "２", "SM2").status_code == 200
    assert sms(client, settings, people[1].phone, "２", "SM2").status_code == 200  # webhook retry
    assert sms(client, settings, people[2].phone, "水已经进屋了", "SM3").status_code == 200
    assert sms(client, settings, "+8617499999999", "1", "SM4").status_code == 200
    assert [state_of(db, person) for person in people] == [
        RecipientState.confirmed,
        RecipientState.needs_help,
        RecipientState.pending,
    ]
    assert count(db, InboundMessage) == 4
    officer = auth(role_keys[Role.officer])
    unmatched = client.get("/api/v1/inbound-messages?unmatched=true", headers=officer).json()
    assert {m["body"] for m in unmatched} == {"水已经进屋了", "1"}
    help_list = client.get("/api/v1/help-requests", headers=officer).json()
    assert [h["phones"] for h in help_list] == [[people[1].phone]]
    handled = client.post(
        f"/api/v1/help-requests/{help_list[0]['id']}/handle",
        json={"note": "已派人"},
        headers=officer,
    )
    assert handled.status_code == 200
    assert handled.json()["handled_by"].startswith("user:u-officer")
    assert client.get("/api/v1/help-requests", headers=officer).json() == []
    again = client.post(
        f"/api/v1/help-requests/{help_list[0]['id']}/handle", json={}, headers=officer
    )
    assert again.status_code == 409


def test_bad_inbound_is_refused_and_changes_nothing(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _alert_id, people = setup(db, settings)
    assert (
        sms(client, settings, people[0].phone, "1", "SM9", signature_token="x").status_code == 403
    )
    assert sms(client, settings, "not a number", "1", "SM8").status_code == 422
    assert sms(client, settings, people[0].phone, "1", "").status_code == 422
    assert sms(client, settings, people[0].phone, "1", "SM" + "x" * 70).status_code == 422
    assert count(db, InboundMessage) == 0
    assert count(db, HelpRequest) == 0
    assert household_states(db) == [RecipientState.pending] * 3


def test_replies_arriving_together_share_a_transaction_and_are_kept_once(
    db: Database, settings: Settings
) -> None:
    _alert_id, people = setup(db, settings)
    apply = inbound_committer(db).apply
    apply([
        Inbound("SM1", people[0].phone, "1", SMS),
        Inbound("SM2", people[1].phone, "2", SMS),
        Inbound("SM2", people[1].phone, "2", SMS),  # the provider's retry, in the same batch
        Inbound("SM3", "+8617499999999", "1", SMS),
    ])  # fmt: skip
    assert [state_of(db, person) for person in people] == [
        RecipientState.confirmed,
        RecipientState.needs_help,
        RecipientState.pending,
    ]
    assert count(db, InboundMessage) == 3
    assert count(db, HelpRequest) == 1


def test_a_reply_the_database_refuses_does_not_hold_back_the_others(
    db: Database, settings: Settings
) -> None:
    if db.url.startswith("sqlite"):
        pytest.skip("SQLite does not enforce a column's width: nothing to refuse")
    _alert_id, people = setup(db, settings)
    too_long = Inbound("SM" + "x" * 100, people[1].phone, "1", SMS)  # past the route's check
    with pytest.raises(DBAPIError):  # the webhooks answer 500; the provider sends again
        inbound_committer(db).apply([Inbound("SM1", people[0].phone, "1", SMS), too_long])
    assert state_of(db, people[0]) is RecipientState.confirmed  # kept on its own
    assert count(db, InboundMessage) == 1
