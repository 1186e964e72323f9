"""Alert counts: a count that was cheap is never reused; an expensive one is reused, with its
age, until it is `max_age` old — and then counted again from the record."""

from __future__ import annotations

from sqlalchemy import update

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.db.database import Database
from broadcaster.reports.counts import CountsCache
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f


def _seed(db: Database, settings: Settings) -> int:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(3):
            f.household(session, grid=zones["G1"])
    return fa.issue(db, settings, zones=["V1"]).alert.id


def _confirm_all(db: Database, alert_id: int) -> None:
    with db.transaction() as session:
        session.execute(
            update(Recipient)
            .where(Recipient.alert_id == alert_id)
            .values(state=RecipientState.confirmed)
        )


def _confirmed(cache: CountsCache, db: Database, alert_id: int) -> tuple[int, float]:
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        counts, age = cache.get(session, alert)
    return counts.households_confirmed, age


def test_cheap_counts_are_always_fresh(db: Database, settings: Settings) -> None:
    alert_id = _seed(db, settings)
    cache = CountsCache(slow=60.0, max_age=60.0)  # nothing here takes a minute
    assert _confirmed(cache, db, alert_id) == (0, 0.0)
    _confirm_all(db, alert_id)
    assert _confirmed(cache, db, alert_id) == (3, 0.0)


def test_expensive_counts_are_reused_until_max_age_then_recounted(
    db: Database, settings: Settings
) -> None:
    alert_id = _seed(db, settings)
    kept = CountsCache(slow=0.0, max_age=60.0)  # every count counts as expensive
    assert _confirmed(kept, db, alert_id) == (0, 0.0)
    _confirm_all(db, alert_id)
    confirmed, age = _confirmed(kept, db, alert_id)
    assert confirmed == 0  # the kept count, and it says it is not fresh
    assert age > 0
    expired = CountsCache(slow=0.0, max_age=0.0)  # kept, but too old at once
    assert _confirmed(expired, db, alert_id)[0] == 3
    assert _confirmed(expired, db, alert_id) == (3, 0.0)
