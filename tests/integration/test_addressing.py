"""Every targeted household is addressed at issue, at every level: a landline is called now,
a household without a phone gets its proxies' messages and a door visit now."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.alerts.models import Alert, AlertSource, Level, Recipient
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import Actor
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.flows.approval import approve
from broadcaster.flows.issuing import issue_alert
from broadcaster.flows.resending import ask_again
from broadcaster.followup.models import VisitTask
from broadcaster.reports.addressing import count_unaddressed
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings
from channels.base import Reach
from channels.registry import channel_for, media
from tests.factories.alerts import RED_RAIN, issue
from tests.integration.addressing_support import (
    LANDLINE,
    PROXY_LANDLINE,
    PROXY_MOBILE,
    seed_village,
)

SMS, VOICE = channel_for(Reach.mobile), channel_for(Reach.phone)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", data_dir=tmp_path / "var", public_base_url="http://testserver")


def sent_to(db: Database, alert_id: int, household_id: int) -> set[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(Delivery.channel, Delivery.address)
            .join(Recipient, Recipient.id == Delivery.recipient_id)
            .where(Delivery.alert_id == alert_id, Recipient.household_id == household_id)
        ).all()
    return {(c, a) for c, a in rows}


def visited(db: Database, alert_id: int) -> dict[int, str]:
    with db.read() as session:
        rows = session.execute(
            select(VisitTask.household_id, VisitTask.reason).where(VisitTask.alert_id == alert_id)
        ).all()
    return dict(rows)


@pytest.mark.parametrize("level", list(Level))
def test_every_household_is_addressed_at_issue(
    db: Database, settings: Settings, level: Level
) -> None:
    village = seed_village(db)
    issued = issue(
        db, settings, zones=["V1"], level=level.value, channels=None, available=set(media())
    )
    alert_id = issued.alert.id
    with db.read() as session:
        assert count_unaddressed(session, alert_id) == 0
        alert = session.get_one(Alert, alert_id)
        assert alert.households_targeted == 6
    assert (VOICE, LANDLINE) in sent_to(db, alert_id, village.landline)  # a call now
    assert issued.channel_counts.get(VOICE, 0) >= 1  # enqueued with the rest
    assert sent_to(db, alert_id, village.proxied) == {(SMS, PROXY_MOBILE), (VOICE, PROXY_LANDLINE)}
    assert sent_to(db, alert_id, village.alone) == set()
    visits = visited(db, alert_id)
    assert visits[village.proxied] in ("no_channel", "vulnerable")
    assert visits[village.alone] == "no_channel"
    assert not set(village.mobile) & set(visits)  # a mobile household is texted, not visited


def test_a_landline_household_is_visited_at_once_when_the_level_calls_nobody(
    db: Database, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(PACKAGE_CONFIG_DIR / "templates", config / "templates")
    (config / "policies.toml").write_text(
        '[blue]\nchannels = ["sms"]\nsteps = [{ after = "2h", visit = true }]\n'
    )
    settings = Settings(env="test", data_dir=tmp_path / "var", config_dir=config)
    village = seed_village(db)
    issued = issue(db, settings, zones=["V1"], level="blue", channels=None, available=set(media()))
    with db.read() as session:
        assert count_unaddressed(session, issued.alert.id) == 0
    assert sent_to(db, issued.alert.id, village.landline) == set()
    visits = visited(db, issued.alert.id)
    assert visits[village.landline] == visits[village.alone] == "no_channel"
    # the proxies are texted (SMS is the level's channel); the landline one has no call
    assert sent_to(db, issued.alert.id, village.proxied) == {(SMS, PROXY_MOBILE)}
    assert issued.channel_counts == {SMS: 4}


def test_a_new_round_addresses_everyone_again(db: Database, settings: Settings) -> None:
    """A raised level's new round calls the landline again and texts the proxies again."""
    seed_village(db)
    issued = issue(
        db, settings, zones=["V1"], level="orange", channels=None, available=set(media())
    )
    alert_id = issued.alert.id
    with db.transaction() as session:
        alert = session.get_one(Alert, alert_id)
        alert.revision += 1
        alert.text_revision = alert.revision
        ask_again(session, alert=alert, now=utcnow())
    with db.read() as session:
        assert count_unaddressed(session, alert_id) == 0
        calls = session.scalars(
            select(Delivery.revision).where(
                Delivery.alert_id == alert_id, Delivery.address == LANDLINE
            )
        ).all()
        texts = session.scalars(
            select(Delivery.revision).where(
                Delivery.alert_id == alert_id, Delivery.address == PROXY_MOBILE
            )
        ).all()
    assert sorted(calls) == sorted(texts) == [1, 2]


def test_a_held_alert_addresses_everyone_once_approved(db: Database, settings: Settings) -> None:
    """A feed's red alert waits for an officer: nothing is planned (all unaddressed, and
    counted so) until approval, which addresses every household like an issue does."""
    village = seed_village(db)
    body = AlertIn.model_validate({**RED_RAIN, "zones": ["V1"], "channels": None})
    with db.transaction() as session:
        held = issue_alert(
            session,
            body=body,
            actor=Actor("feed"),
            source=AlertSource.feed,
            settings=settings,
            available_channels=set(media()),
        ).alert
        alert_id = held.id
    with db.read() as session:
        assert count_unaddressed(session, alert_id) == 6
    with db.transaction() as session:
        approved = approve(session, alert_id=alert_id, actor=Actor("officer"), settings=settings)
        assert approved.channel_counts[VOICE] >= 2  # the landline and the proxy's landline
    with db.read() as session:
        assert count_unaddressed(session, alert_id) == 0
    assert (VOICE, LANDLINE) in sent_to(db, alert_id, village.landline)
    assert visited(db, alert_id)[village.alone] == "no_channel"
