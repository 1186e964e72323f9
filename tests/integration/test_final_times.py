"""An alert's progress (seconds until 50, 90 and 100 % of its households were final) comes
from moments the follow-up tick keeps once reached: reads do not sort the households."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.db.database import Database
from broadcaster.reports.progress import AlertFinalTime, progress, record_final_times
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f


def _confirm(db: Database, alert_id: int, count: int, after: dt.datetime) -> None:
    """The first `count` households confirm, one a minute after `after`."""
    with db.transaction() as session:
        ids = session.scalars(
            select(Recipient.id).where(Recipient.alert_id == alert_id).order_by(Recipient.id)
        ).all()
        for minute, recipient_id in enumerate(ids[:count], start=1):
            session.execute(
                update(Recipient)
                .where(Recipient.id == recipient_id)
                .values(
                    state=RecipientState.confirmed, final_at=after + dt.timedelta(minutes=minute)
                )
            )


def test_final_times_are_kept_once_reached(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for _ in range(4):
            f.household(session, grid=grid)
    alert_id = fa.issue(db, settings, zones=["V1"], channels=["sms"]).alert.id
    with db.read() as session:
        start = session.get_one(Alert, alert_id).round_started_at
    assert start is not None
    _confirm(db, alert_id, 2, start)
    with db.transaction() as session:
        alert = session.get_one(Alert, alert_id)
        assert record_final_times(session, alert) == 1  # 50 %: the second household
        assert record_final_times(session, alert) == 0  # kept once
    _confirm(db, alert_id, 4, start)
    with db.transaction() as session:
        alert = session.get_one(Alert, alert_id)
        before = progress(session, alert, 4).seconds_to_final  # 90 and 100 % sorted here
        assert record_final_times(session, alert) == 2
        kept = session.scalar(select(func.count()).select_from(AlertFinalTime))
    assert before == {"p50": 120.0, "p90": 240.0, "p100": 240.0}
    assert kept == 3
    with db.transaction() as session:  # reads use the kept moments, not a new sort
        session.execute(update(Recipient).values(final_at=start + dt.timedelta(hours=1)))
        alert = session.get_one(Alert, alert_id)
        assert progress(session, alert, 4).seconds_to_final == before
        alert.round += 1  # a new round asks every household again: its own moments
        session.execute(update(Recipient).values(state=RecipientState.pending, final_at=None))
        assert progress(session, alert, 4).seconds_to_final == dict.fromkeys(before)
