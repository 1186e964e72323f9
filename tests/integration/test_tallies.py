"""An alert's tallies (households by state and flags, deliveries by channel and state, visit
tasks by state) are kept by the database in the transactions that write the rows, equal a
recount at every step, and a drifted tally is reported and mended."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from sqlalchemy import exists, func, insert, select, text, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.states import CONCERNED, NOT_FINAL
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.flows import issuing
from broadcaster.flows.replies import Inbound
from broadcaster.flows.reply_batch import keep_replies
from broadcaster.flows.tally_tick import check_alerts
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.followup.visits import create_visits
from broadcaster.registry.models import Person
from broadcaster.reports.addressing import count_unaddressed
from broadcaster.reports.tallies import AlertTally, check_alert, checking, fold, recount, tallies
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

PHONES = [f"+861745551{n:03d}" for n in range(8)]


def _district_alert(db: Database, settings: Settings) -> int:
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for phone in PHONES:
            f.household(session, grid=grid, phones=(phone,))
        f.household(session, grid=grid, phones=("+862088880000",))  # a landline: called
        f.household(session, grid=grid, phones=("+861745559999",), vulnerability=("elderly",))
    return fa.issue(db, settings, zones=["V1"], channels=["sms"]).alert.id


def _same(db: Database, alert_id: int) -> dict[str, Any]:
    """The tallies, asserted equal to a recount, and the households without a channel and
    unaddressed equal to the queries that scan for them, all in the same snapshot."""
    with db.transaction() as session:
        kept, counted = tallies(session, alert_id), recount(session, alert_id)
        scanned = {
            "without": _without_channel(session, alert_id),
            "unaddressed": count_unaddressed(session, alert_id),
        }
    assert kept == counted
    found = {
        "without": kept.households_without("c", CONCERNED),
        "unaddressed": kept.households_without("wv", NOT_FINAL),
    }
    assert found == scanned
    return {
        "households": dict(kept.households),
        "deliveries": dict(kept.deliveries),
        "visits": dict(kept.visits),
        "keys": len(kept.keyed()),
        **found,
    }


def _without_channel(session: Session, alert_id: int) -> int:
    """Households of the alert that no delivery names (the scan the tallies replace)."""
    query = select(func.count()).where(
        Recipient.alert_id == alert_id,
        Recipient.state.in_(CONCERNED),
        ~exists().where(Delivery.recipient_id == Recipient.id),
    )
    return int(session.scalar(query) or 0)


def test_tallies_follow_issue_callbacks_and_replies(db: Database, settings: Settings) -> None:
    alert_id = _district_alert(db, settings)
    issued = _same(db, alert_id)
    assert issued["deliveries"] == {("sms", "queued"): len(PHONES) + 1, ("voice", "queued"): 1}
    assert sum(issued["households"].values()) == len(PHONES) + 2
    assert issued["visits"] == {"open": 1}  # the vulnerable household: a visit at once

    sids = fa.mark_sent(db, alert_id)
    ids = sorted(sids)
    with db.transaction() as session:  # half delivered, one failed: two statements
        reports = [StatusReport(i, sids[i], DeliveryState.delivered) for i in ids[:4]]
        apply_reports(session, reports, utcnow())
        apply_reports(session, [StatusReport(ids[4], sids[ids[4]], DeliveryState.failed)], utcnow())
    moved = _same(db, alert_id)
    assert moved["deliveries"][("sms", "delivered")] == 4
    assert moved["deliveries"][("sms", "failed")] == 1

    with db.transaction() as session:  # two households answer 1
        keep_replies(
            session, [Inbound(f"SM{n}", PHONES[n], "1", "sms") for n in (0, 1)], utcnow(), []
        )
    answered = _same(db, alert_id)
    assert answered["households"]["confirmed"] == 2

    with db.transaction() as session:
        folded = fold(session)
        rows = session.scalars(select(AlertTally.n).where(AlertTally.alert_id == alert_id)).all()
    assert _same(db, alert_id) == answered
    keys = answered["keys"]
    if db.dialect == "postgresql":  # a delta per statement and key, folded to one row per key
        assert folded > 0
        assert len(rows) == keys
    else:  # one row per key all along (a key moved away from keeps its row, at 0)
        assert folded == 0
        assert len([n for n in rows if n]) == keys


def test_a_drifted_tally_is_reported_and_mended(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    alert_id = _district_alert(db, settings)
    with db.transaction() as session:  # a tally that no longer matches the rows
        session.execute(
            insert(AlertTally).values(
                alert_id=alert_id, subject="delivery", channel="sms", state="delivered", seq=99, n=3
            )
        )
    with caplog.at_level(logging.WARNING, logger="broadcaster.reports.tallies"):
        found = check_alerts(db)
    assert found == {"checked": 1, "drifted": {alert_id: {"delivery:sms:delivered": -3}}}
    assert f"alert {alert_id}: tallies drifted" in caplog.text
    _same(db, alert_id)
    with db.transaction() as session:
        checking(session)
        assert check_alert(session, alert_id) == {}


@pytest.mark.parametrize("migrated_db", ["postgresql"], indirect=True)
def test_writers_of_one_alert_never_wait_on_its_tallies(db: Database, settings: Settings) -> None:
    """Two open transactions move deliveries of the same alert between the same states: the
    second must not wait for the first (a tally row updated in place would make it)."""
    alert_id = _district_alert(db, settings)
    with db.read() as session:
        ids = sorted(session.scalars(select(Delivery.id).where(Delivery.alert_id == alert_id)))
    first, second = db.engine.connect(), db.engine.connect()
    try:
        first.begin()
        second.begin()
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        for connection, delivery_id in ((first, ids[0]), (second, ids[1])):
            connection.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(state=DeliveryState.failed)
            )
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert _same(db, alert_id)["deliveries"][("sms", "failed")] == 2


@pytest.mark.parametrize("migrated_db", ["postgresql"], indirect=True)
def test_planning_rewrites_no_household_before_settling(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planning writes each household's flags as it inserts it, the vulnerable ones that the
    red policy visits at once `visiting` too: no recipient row is updated between their
    insert and the one settling pass (a million households: each update is a new row
    version, seconds)."""
    counted = text(  # this backend's count, including earlier transactions not yet flushed
        "SELECT n_tup_upd FROM pg_stat_xact_user_tables "
        "WHERE relname = 'recipients' AND schemaname = current_schema()"
    )
    updates: list[int] = []
    plan, settle = issuing.plan_recipients, issuing.settle_recipients

    def planning(session: Session, **kwargs: Any) -> int:
        updates.append(int(session.scalar(counted) or 0))
        return plan(session, **kwargs)

    def settling(session: Session, where: Any) -> int:
        updates.append(int(session.scalar(counted) or 0))
        return settle(session, where)

    monkeypatch.setattr(issuing, "plan_recipients", planning)
    monkeypatch.setattr(issuing, "settle_recipients", settling)
    alert_id = _district_alert(db, settings)
    before, after = updates
    assert after - before == 0
    assert _same(db, alert_id)["visits"] == {"open": 1}  # the vulnerable household's


def test_flags_follow_failures_visits_and_rounds(db: Database, settings: Settings) -> None:
    """Households without a channel and unaddressed, from the tallies, equal the scans at
    every step: a household nobody can be sent to, a warning that failed, a visit opened
    and done, a new round that asks every household again."""
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for phone in PHONES[:3]:
            f.household(session, grid=grid, phones=(phone,))
        nobody = f.household(session, grid=grid)
        session.execute(update(Person).where(Person.household_id == nobody.id).values(active=False))
    alert_id = fa.issue(db, settings, zones=["V1"], channels=["sms"]).alert.id
    issued = _same(db, alert_id)
    assert issued["without"] == 1  # the household whose only person is inactive

    sids = fa.mark_sent(db, alert_id)
    first = min(sids)
    with db.transaction() as session:  # its only warning failed: unaddressed, until a visit
        apply_reports(session, [StatusReport(first, sids[first], DeliveryState.failed)], utcnow())
        household = session.scalar(select(Delivery.recipient_id).where(Delivery.id == first))
    failed = _same(db, alert_id)
    assert failed["unaddressed"] == issued["unaddressed"] + 1

    with db.transaction() as session:  # a visit for it: addressed again
        visits = create_visits(
            session,
            alert=session.get_one(Alert, alert_id),
            condition=Recipient.id == household,
            now=utcnow(),
            reassign_after=dt.timedelta(minutes=30),
            reason="test",
        )
    assert visits == 1
    visited = _same(db, alert_id)
    assert visited["unaddressed"] == issued["unaddressed"]

    with db.transaction() as session:  # the visit is done: a finding, not a warning
        session.execute(
            update(VisitTask)
            .where(VisitTask.recipient_id == household)
            .values(state=VisitState.done)
        )
    assert _same(db, alert_id)["unaddressed"] == issued["unaddressed"] + 1

    with db.transaction() as session:  # a new round: no warning of it has gone yet
        session.execute(
            update(Recipient)
            .where(Recipient.alert_id == alert_id)
            .values(round=Recipient.round + 1)
        )
    asked_again = _same(db, alert_id)
    open_visits = asked_again["visits"].get("open", 0)  # the household nobody can be sent to
    assert asked_again["unaddressed"] == sum(asked_again["households"].values()) - open_visits


def test_a_wrong_flag_is_settled_by_the_check(db: Database, settings: Settings) -> None:
    alert_id = _district_alert(db, settings)
    with db.transaction() as session:  # a household said unwarned, though its SMS is queued
        one = session.scalar(select(func.min(Recipient.id)).where(Recipient.alert_id == alert_id))
        session.execute(update(Recipient).where(Recipient.id == one).values(warned=False))
    with db.read() as session:
        assert tallies(session, alert_id).households_without("wv", NOT_FINAL) == 1
    assert check_alerts(db) == {"checked": 1, "drifted": {alert_id: {"households settled": 1}}}
    assert _same(db, alert_id)["unaddressed"] == 0
    assert check_alerts(db) == {"checked": 1, "drifted": {}}
