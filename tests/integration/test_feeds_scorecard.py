"""Drill scorecards: counted from the record, and produced for a drill run end to end."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Answer as ConfirmAnswer
from broadcaster.confirm.models import Confirmation, ConfirmVia
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.followup.models import VisitTask
from broadcaster.registry.models import Household, Zone
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.feeds_support import cap_document
from tests.stack import running_stack, wait_until

T0 = dt.datetime(2024, 7, 1, 0, 0, tzinfo=dt.UTC)
R = RecipientState


def test_scorecard_counts_from_the_record(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(5):
            f.household(session, grid=zones["G1"])
    alert_id = fa.issue(db, settings, zones=["V1"], status="exercise").alert.id
    story = [  # state, final after (s), sms delivery state
        (R.confirmed, 60, DeliveryState.delivered),
        (R.confirmed, 120, DeliveryState.delivered),
        (R.needs_help, 300, DeliveryState.delivered),
        (R.pending, None, DeliveryState.failed),
        (R.reached, None, DeliveryState.delivered),
    ]
    with db.transaction() as session:
        session.execute(update(Alert).where(Alert.id == alert_id).values(issued_at=T0))
        recipients = session.scalars(
            select(Recipient).where(Recipient.alert_id == alert_id).order_by(Recipient.id)
        ).all()
        for recipient, (state, after, sent) in zip(recipients, story, strict=True):
            recipient.state = state
            recipient.final_at = T0 + dt.timedelta(seconds=after) if after else None
            session.execute(
                update(Delivery)
                .where(Delivery.recipient_id == recipient.id)
                .values(state=sent, sent_at=T0 + dt.timedelta(seconds=5))
            )
        for recipient, via in zip(
            recipients, (ConfirmVia.sms_reply, ConfirmVia.link), strict=False
        ):
            session.add(
                Confirmation(
                    alert_id=alert_id,
                    recipient_id=recipient.id,
                    via=via,
                    answer=ConfirmAnswer.safe,
                    by="test",
                    at=T0,
                )
            )
        never = recipients[3]
        session.add(
            VisitTask(
                alert_id=alert_id,
                recipient_id=never.id,
                household_id=never.household_id,
                created_at=T0,
            )
        )
        never_code = session.get(Household, never.household_id).code  # type: ignore[union-attr]
    answer = client.get(
        f"/api/v1/alerts/{alert_id}/scorecard", headers=auth(role_keys[Role.officer])
    )
    assert answer.status_code == 200, answer.text
    card = answer.json()
    assert card["drill"] is True
    assert (card["households_targeted"], card["households_final"]) == (5, 3)
    assert card["seconds_to_final"] == {"p50": 300.0, "p90": None, "p100": None}
    assert card["seconds_to_first_send"] == 5.0
    sms = card["channels"]["sms"]
    assert (sms["delivered"], sms["failed"], sms["delivery_rate"]) == (4, 1, 0.8)
    assert (sms["households_delivered"], sms["households_answered"]) == (4, 3)
    assert sms["confirmation_rate"] == 0.75
    assert card["confirmations_by_via"] == {"sms_reply": 1, "link": 1}
    assert card["visits_needed"] == 1
    assert (card["households_never_reached"], card["never_reached"]) == (1, [never_code])


def test_a_drill_from_a_cap_exercise_ends_with_a_scorecard(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        session.get(Zone, zones["D"].id).region_code = "500112"  # type: ignore[union-attr]
        mobiles = [f"+861740500{n:04d}" for n in range(4)]
        for phone in mobiles:
            f.household(session, grid=zones["G1"], phones=(phone,))
        landline = f.household(session, grid=zones["G2"], phones=("+862312345678",)).code
    exercise = cap_document("DRILL-1", status="Exercise", geocodes=("500112",))
    with running_stack(db, redis_settings, tmp_path / "s") as stack, stack.client() as api:
        stack.start_worker()
        posted = api.post(
            "/api/v1/feeds/cap", content=exercise, headers={"Content-Type": "application/cap+xml"}
        )
        assert posted.status_code == 201, posted.text
        alert_id = posted.json()["alert"]["id"]

        def delivered() -> bool:
            """The four texts delivered; the landline's call (at once: yellow's voice step is
            the level's channel that reaches it) placed, ringing unanswered."""
            with db.read() as session:
                states = session.execute(
                    select(Delivery.channel, Delivery.state).where(Delivery.alert_id == alert_id)
                ).all()
            texts = [s for c, s in states if c == "sms"]
            calls = [s for c, s in states if c == "voice"]
            return (
                len(texts) == 4
                and set(texts) == {DeliveryState.delivered}
                and len(calls) == 1
                and calls[0] is DeliveryState.sent
            )

        wait_until(delivered)
        texts = {m.to: m.body for m in stack.sim_messages()}
        assert set(texts) == set(mobiles)
        assert all(body.startswith("【演练】") for body in texts.values())
        links = {to: re.search(r"/c/[A-Za-z0-9_\-.]+", body) for to, body in texts.items()}
        answers = dict(zip(mobiles[:3], ("safe", "safe", "needs_help"), strict=True))
        for phone, choice in answers.items():
            link = links[phone]
            assert link is not None
            done = httpx.post(stack.api_url + link.group(0), data={"answer": choice}, timeout=30)
            assert done.status_code == 200, done.text
        card = api.get(f"/api/v1/alerts/{alert_id}/scorecard").json()
    assert card["drill"] is True
    assert (card["households_targeted"], card["households_final"]) == (5, 3)
    assert (card["households_confirmed"], card["households_needs_help"]) == (2, 1)
    assert card["seconds_to_final"]["p50"] is not None
    assert card["seconds_to_final"]["p100"] is None
    assert card["seconds_to_first_send"] is not None
    sms = card["channels"]["sms"]
    assert (sms["delivered"], sms["delivery_rate"], sms["households_delivered"]) == (4, 1.0, 4)
    assert sms["confirmation_rate"] == 0.75
    assert card["confirmations_by_via"] == {"link": 3}
    assert (card["households_never_reached"], card["never_reached"]) == (1, [landline])
