"""The partial indexes of deliveries (a lease, a provider's id) serve the look-ups by them:
a receipt found by the provider's id, the reconciler's expired leases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f


def _plan(session: Session, query: Select[tuple[int]]) -> str:
    """The query plan, the planner kept off a sequential scan where an index can serve."""
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(session.scalars(text(f"EXPLAIN {sql}")))
    return "\n".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))


def test_look_ups_by_lease_and_provider_id_use_their_partial_indexes(
    db: Database, settings: Settings
) -> None:
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for _ in range(3):
            f.household(session, grid=grid)
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    sids = list(fa.mark_sent(db, alert_id).values())
    by_sid = select(Delivery.id).where(Delivery.provider_id.in_(sids[:2]))
    expired = select(Delivery.id).where(
        Delivery.state == DeliveryState.sending,
        Delivery.lease_expires_at < utcnow() - dt.timedelta(seconds=1),
    )
    with db.transaction() as session:
        assert "ix_deliveries_provider_id" in _plan(session, by_sid)
        assert "ix_deliveries_lease" in _plan(session, expired)
        assert len(session.scalars(by_sid).all()) == 2
