"""Status callbacks: forged ones are 403 and change nothing; valid ones only move forward."""

from __future__ import annotations

import random
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

PATH = "/hooks/twilio/sms/status"


def snapshot(db: Database) -> list[tuple[Any, ...]]:
    with db.transaction() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.state, Delivery.provider_id, Delivery.error_code).order_by(
                Delivery.id
            )
        ).all()
        recipients = session.execute(select(Recipient.id, Recipient.state)).all()
    return [tuple(r) for r in rows] + [tuple(r) for r in recipients]


def signed(settings: Settings, url: str, params: dict[str, str]) -> dict[str, str]:
    validator = RequestValidator(settings.twilio.auth_token.get_secret_value())
    return {"X-Twilio-Signature": validator.compute_signature(url, params)}


def params_for(delivery_id: int, sid: str, status: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+8617400000001",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }


def setup(db: Database, settings: Settings, households: int = 10) -> dict[int, str]:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(households):
            f.household(session, grid=zones["G1"])
    issued = fa.issue(db, settings, zones=["V1"])
    return fa.mark_sent(db, issued.alert.id)


def test_forged_callbacks_are_refused_and_change_nothing(
    client: TestClient, db: Database, settings: Settings
) -> None:
    sids = setup(db, settings)
    before = snapshot(db)
    rng = random.Random(3)
    statuses = 0
    for n in range(1000):
        delivery_id, sid = rng.choice(list(sids.items()))
        url = f"{settings.public_base_url}{PATH}?d={delivery_id}"
        params = params_for(delivery_id, sid, "delivered")
        kind = n % 4
        if kind == 0:  # signed with the wrong token
            headers = {
                "X-Twilio-Signature": RequestValidator("wrong").compute_signature(url, params)
            }
        elif kind == 1:  # a field changed after signing
            headers = signed(settings, url, params)
            params = {**params, "MessageStatus": "failed"}
        elif kind == 2:  # signed for another URL (another delivery)
            headers = signed(settings, f"{settings.public_base_url}{PATH}?d=999999", params)
        else:  # no signature at all
            headers = {}
        answer = client.post(f"{PATH}?d={delivery_id}", data=params, headers=headers)
        assert answer.status_code == 403, answer.text
        statuses += 1
    assert statuses == 1000
    assert snapshot(db) == before


def test_replayed_and_shuffled_callbacks_never_move_backwards(
    client: TestClient, db: Database, settings: Settings
) -> None:
    sids = setup(db, settings)
    sequence = []
    for delivery_id, sid in sids.items():
        final = "undelivered" if delivery_id % 3 == 0 else "delivered"
        for status in ("queued", "sent", final):
            sequence.extend([(delivery_id, sid, status)] * 3)  # every callback three times
    random.Random(5).shuffle(sequence)
    for delivery_id, sid, status in sequence:
        url = f"{settings.public_base_url}{PATH}?d={delivery_id}"
        params = params_for(delivery_id, sid, status)
        answer = client.post(
            f"{PATH}?d={delivery_id}", data=params, headers=signed(settings, url, params)
        )
        assert answer.status_code == 200, answer.text
    with db.transaction() as session:
        states = dict(session.execute(select(Delivery.id, Delivery.state)).all())
        reached = session.scalars(select(Recipient.state)).all()
    for delivery_id in sids:
        expected = DeliveryState.failed if delivery_id % 3 == 0 else DeliveryState.delivered
        assert states[delivery_id] == expected
    delivered_households = sum(1 for d in sids if d % 3)
    assert sum(1 for s in reached if s == RecipientState.reached) == delivered_households


def test_callback_for_another_message_sid_is_ignored(
    client: TestClient, db: Database, settings: Settings
) -> None:
    sids = setup(db, settings, households=1)
    delivery_id = next(iter(sids))
    url = f"{settings.public_base_url}{PATH}?d={delivery_id}"
    params = params_for(delivery_id, "SM" + "f" * 32, "delivered")
    answer = client.post(
        f"{PATH}?d={delivery_id}", data=params, headers=signed(settings, url, params)
    )
    assert answer.status_code == 200
    with db.transaction() as session:
        assert session.get(Delivery, delivery_id).state == DeliveryState.sent  # type: ignore[union-attr]


def test_a_batch_of_reports_applies_in_one_transaction(db: Database, settings: Settings) -> None:
    from broadcaster.db.base import utcnow
    from broadcaster.delivery.statuses import StatusReport, apply_reports

    sids = setup(db, settings, households=5)
    reports = [StatusReport(d, sid, DeliveryState.delivered) for d, sid in sids.items()]
    with db.transaction() as session:
        moved = apply_reports(session, reports + reports, utcnow())
    assert moved == 5
    assert set(household_states(db)) == {RecipientState.reached}


def household_states(db: Database) -> list[RecipientState]:
    with db.read() as session:
        return list(session.scalars(select(Recipient.state)))
