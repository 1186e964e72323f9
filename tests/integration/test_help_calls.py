"""A household asks for help: its responsible worker and the village lead are texted at once
(a delivery each, with the household's head, address and phone), its visit is due now ahead
of every other, and the help queue lists vulnerable households first, then the oldest."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.texts import NOTICE_HELP
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Answer
from broadcaster.db.database import Database
from broadcaster.delivery.items import ItemContext, sms_items
from broadcaster.delivery.ledger import Claimed
from broadcaster.delivery.models import Delivery
from broadcaster.flows.calls import call_script, confirm_by_key
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Household, Person, Worker
from broadcaster.settings import Settings
from broadcaster.web.console.board import help_queue
from channels.base import Reach
from channels.registry import channel_for, media
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.integration.addressing_support import LANDLINE, seed_village
from tests.integration.test_confirm import sms

SMS, VOICE = channel_for(Reach.mobile), channel_for(Reach.phone)
LEAD_LANDLINE = "+862312345679"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", data_dir=tmp_path / "var", public_base_url="http://testserver")


def help_notices(db: Database, alert_id: int) -> list[tuple[str, str, int | None]]:
    with db.read() as session:
        rows = session.execute(
            select(Delivery.channel, Delivery.address, Delivery.recipient_id)
            .where(Delivery.alert_id == alert_id, Delivery.notice == NOTICE_HELP)
            .order_by(Delivery.id)
        ).all()
    return [(c, a, r) for c, a, r in rows]


def phone_of(db: Database, household_id: int) -> str:
    with db.read() as session:
        phone = session.scalar(select(Person.phone).where(Person.household_id == household_id))
    assert phone is not None
    return phone


def test_a_call_for_help_texts_the_worker_and_the_lead_and_opens_a_visit_first(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village = seed_village(db)
    alert_id = fa.issue(
        db, settings, zones=["V1"], level="orange", channels=None, available=set(media())
    ).alert.id
    fa.mark_sent(db, alert_id)
    asking = village.mobile[0]
    assert sms(client, settings, phone_of(db, asking), "2", "SMH1").status_code == 200
    assert sms(client, settings, phone_of(db, asking), "求助", "SMH2").status_code == 200  # again
    notices = help_notices(db, alert_id)
    assert {(c, a) for c, a, _r in notices} == {
        (SMS, village.worker_phone),
        (SMS, village.lead_phone),
    }
    assert len(notices) == 2  # once per help request
    with db.read() as session:
        recipient = session.scalars(select(Recipient).where(Recipient.household_id == asking)).one()
        assert recipient.state is RecipientState.needs_help
        tasks = {
            t.household_id: t
            for t in session.scalars(select(VisitTask).where(VisitTask.alert_id == alert_id))
        }
        alert = session.get_one(Alert, alert_id)
        claimed = [
            Claimed(
                d.id, alert_id, d.recipient_id, None, None, None, d.address, d.priority, 1, d.notice
            )
            for d in session.scalars(
                select(Delivery).where(Delivery.notice == NOTICE_HELP).order_by(Delivery.id)
            )
        ]
        texts = [i.body for i in sms_items(session, ItemContext(settings, alert, SMS), claimed)]
        household = session.get_one(Household, asking)
    task = tasks[asking]
    assert (task.state, task.reason) == (VisitState.open, "help")
    assert task.priority < min(t.priority for h, t in tasks.items() if h != asking)
    assert task.due_at is not None
    assert all(household.head_name in t and household.address in t for t in texts)
    assert all(phone_of(db, asking) in t and "需要帮助" in t for t in texts)
    # the worker answering the notice does not answer for the household
    assert sms(client, settings, village.worker_phone, "1", "SMH3").status_code == 200
    with db.read() as session:
        state = session.scalar(select(Recipient.state).where(Recipient.household_id == asking))
    assert state is RecipientState.needs_help
    board = client.get("/api/v1/help-requests", headers=auth(role_keys[Role.officer]))
    assert [r["household_code"] for r in board.json()] == [household.code]


def test_the_help_queue_lists_vulnerable_households_first_then_the_oldest(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village = seed_village(db)
    alert_id = fa.issue(
        db, settings, zones=["V1"], level="red", channels=None, available=set(media())
    ).alert.id
    fa.mark_sent(db, alert_id)
    with db.transaction() as session:
        vulnerable = session.get_one(Household, village.mobile[2])
        vulnerable.is_vulnerable, vulnerable.vulnerability = True, ["disabled"]
        session.execute(
            Recipient.__table__.update()  # type: ignore[attr-defined]
            .where(Recipient.household_id == vulnerable.id)
            .values(is_vulnerable=True)
        )
    for n, household_id in enumerate(village.mobile):
        sent = sms(client, settings, phone_of(db, household_id), "2", f"SMQ{n}")
        assert sent.status_code == 200
    board = client.get("/api/v1/help-requests", headers=auth(role_keys[Role.officer]))
    with db.read() as session:
        codes = {
            h.id: h.code
            for h in session.scalars(select(Household).where(Household.id.in_(village.mobile)))
        }
    first, second, third = village.mobile
    assert [r["household_code"] for r in board.json()] == [
        codes[third],
        codes[first],
        codes[second],
    ]
    with db.read() as session:
        total, queue = help_queue(session)  # the console's duty board, in the same order
    assert total == 3
    assert [item.household_code for item in queue] == [codes[third], codes[first], codes[second]]


def test_key_2_in_a_call_tells_a_lead_on_a_landline_by_a_call_that_speaks_the_household(
    db: Database, settings: Settings
) -> None:
    village = seed_village(db)
    with db.transaction() as session:
        lead = session.scalars(select(Worker).where(Worker.phone == village.lead_phone)).one()
        lead.phone = LEAD_LANDLINE
    alert_id = fa.issue(
        db, settings, zones=["V1"], level="orange", channels=None, available=set(media())
    ).alert.id
    fa.mark_sent(db, alert_id)
    with db.read() as session:
        call = session.scalars(
            select(Delivery.id).where(Delivery.alert_id == alert_id, Delivery.address == LANDLINE)
        ).one()
    assert confirm_by_key(
        db, medium=VOICE, delivery_id=call, answer=Answer.needs_help, digit="2", call_id="CA1"
    )
    notices = help_notices(db, alert_id)
    assert {(c, a) for c, a, _r in notices} == {
        (SMS, village.worker_phone),
        (VOICE, LEAD_LANDLINE),
    }
    with db.read() as session:
        lead_call = session.scalars(
            select(Delivery.id).where(Delivery.address == LEAD_LANDLINE)
        ).one()
        head = session.get_one(Household, village.landline).head_name
    script = call_script(db, settings, medium=VOICE, delivery_id=lead_call, audio=None)
    assert script is not None
    assert head in script.text
    assert "需要帮助" in script.text
    # the lead pressing 1 in that call does not answer for the household
    assert not confirm_by_key(
        db, medium=VOICE, delivery_id=lead_call, answer=Answer.safe, digit="1", call_id="CA2"
    )
