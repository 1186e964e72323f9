"""The references of deliveries, recipients and visit tasks hold on both databases: PostgreSQL
checks them per statement (migrations 0019, 0024), SQLite with its foreign keys — a row that
names no row is refused, a reference never changes (but a visit task's worker, to one that
exists), a row still referred to is never deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.models import Household, Person, Worker
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

REFUSED = r"(?i)foreign key|reference|referred"  # SQLite's words, or our triggers'


def issued(db: Database, settings: Settings) -> int:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(3):
            f.household(session, grid=zones["G1"])
    return fa.issue(db, settings, zones=["V1"]).alert.id


def a_delivery(db: Database) -> dict[str, object]:
    with db.read() as session:
        row = session.execute(select(Delivery).limit(1)).scalar_one()
        return {
            "alert_id": row.alert_id,
            "recipient_id": row.recipient_id,
            "person_id": row.person_id,
            "channel": row.channel,
            "address": row.address,
            "state": row.state,
            "priority": row.priority,
        }


@pytest.mark.parametrize(
    "column", ["alert_id", "recipient_id", "person_id", "resend_of", "group_id", "loudspeaker_id"]
)
def test_a_delivery_naming_no_row_is_refused(db: Database, settings: Settings, column: str) -> None:
    issued(db, settings)
    row = {**a_delivery(db), column: 999_999}
    with pytest.raises(DBAPIError, match=REFUSED), db.transaction() as s:
        s.execute(insert(Delivery).values(**row))
    with db.read() as session:
        assert session.scalar(select(func.count()).where(getattr(Delivery, column) == 999_999)) == 0


def test_a_bulk_insert_with_one_bad_row_writes_nothing(db: Database, settings: Settings) -> None:
    issued(db, settings)
    good = a_delivery(db)
    with db.read() as session:
        before = session.scalar(select(func.count()).select_from(Delivery))
    rows = [good, good, {**good, "recipient_id": 999_999}]
    with pytest.raises(DBAPIError, match=REFUSED), db.transaction() as s:
        s.execute(insert(Delivery), rows)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == before


def test_a_recipient_naming_no_household_or_alert_is_refused(
    db: Database, settings: Settings
) -> None:
    alert_id = issued(db, settings)
    with db.read() as session:
        household_id = session.scalar(select(Recipient.household_id).limit(1))
    for row in (
        {"alert_id": alert_id, "household_id": 999_999},
        {"alert_id": 999_999, "household_id": household_id},
    ):
        with pytest.raises(DBAPIError, match=REFUSED), db.transaction() as s:
            s.execute(insert(Recipient).values(state="pending", priority=0, **row))


def test_a_reference_cannot_point_elsewhere(db: Database, settings: Settings) -> None:
    issued(db, settings)
    with pytest.raises(DBAPIError, match=REFUSED), db.transaction() as s:
        s.execute(update(Delivery).values(recipient_id=999_999))
    if db.dialect == "postgresql":  # fixed there even towards an existing row
        with db.read() as session:
            other = session.scalar(select(func.max(Recipient.id)))
        with pytest.raises(DBAPIError, match="fixed"), db.transaction() as s:
            s.execute(update(Delivery).values(recipient_id=other))


@pytest.mark.parametrize("model", [Alert, Recipient, Person])
def test_a_row_still_referred_to_is_not_deleted(
    db: Database, settings: Settings, model: type
) -> None:
    issued(db, settings)
    with pytest.raises(DBAPIError, match=REFUSED), db.transaction() as s:
        s.execute(delete(model))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(model)) > 0


def a_visit_task(db: Database, settings: Settings) -> dict[str, object]:
    """A visit task of an issued alert, assigned to a worker: its row's values."""
    alert_id = issued(db, settings)
    with db.transaction() as session:
        recipient = session.execute(select(Recipient).limit(1)).scalar_one()
        row = {
            "alert_id": alert_id,
            "recipient_id": recipient.id,
            "household_id": recipient.household_id,
            "worker_id": f.worker(session).id,
            "state": VisitState.open,
            "created_at": fa.utcnow(),
        }
        session.execute(insert(VisitTask).values(**row))
    return row


@pytest.mark.parametrize(
    "column", ["alert_id", "recipient_id", "household_id", "worker_id", "reassigned_from"]
)
def test_a_visit_task_naming_no_row_is_refused(
    db: Database, settings: Settings, column: str
) -> None:
    good = a_visit_task(db, settings)
    with db.transaction() as session:  # another round's task of the same household is fine
        session.execute(insert(VisitTask).values(**{**good, "round": 2}))
    with pytest.raises(DBAPIError, match=REFUSED), db.transaction() as s:
        s.execute(insert(VisitTask).values(**{**good, "round": 3, column: 999_999}))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(VisitTask)) == 2


def test_a_visit_task_moves_only_to_a_worker_that_exists(db: Database, settings: Settings) -> None:
    task = a_visit_task(db, settings)
    with db.transaction() as session:
        lead = f.worker(session, name="李组长").id
        session.execute(update(VisitTask).values(reassigned_from=task["worker_id"], worker_id=lead))
    for column in ("worker_id", "reassigned_from"):
        with pytest.raises(DBAPIError, match=REFUSED), db.transaction() as s:
            s.execute(update(VisitTask).values(**{column: 999_999}))
    with db.read() as session:
        moved = session.execute(select(VisitTask.worker_id, VisitTask.reassigned_from)).one()
    assert tuple(moved) == (lead, task["worker_id"])
    if db.dialect == "postgresql":  # its alert, recipient and household are fixed there
        with db.read() as session:
            other = session.scalar(select(func.max(Household.id)))
        with pytest.raises(DBAPIError, match="fixed"), db.transaction() as s:
            s.execute(update(VisitTask).values(household_id=other))


@pytest.mark.parametrize("model", [Worker, Recipient])
def test_a_row_a_visit_task_refers_to_is_not_deleted(
    db: Database, settings: Settings, model: type
) -> None:
    a_visit_task(db, settings)
    with db.transaction() as session:  # nothing else refers to them now
        session.execute(delete(Delivery))
    refused = "visit_tasks" if db.dialect == "postgresql" else REFUSED
    with pytest.raises(DBAPIError, match=refused), db.transaction() as s:
        s.execute(delete(model))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(model)) > 0
        assert session.scalar(select(func.count()).select_from(VisitTask)) == 1
