"""On SQLite, statements that name deliveries by their keys (or numbers) are planned by those
keys. With a
state beside the keys, SQLite (without statistics, as after a bulk write) would search the
`(state, …)` index instead: every delivery of the database in that state, for each batch of
status callbacks or replies — a fan-out's callbacks slowed as it went."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, update

from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.delivery.statuses import StatusReport, apply_reports
from broadcaster.flows.replies import Inbound
from broadcaster.flows.reply_batch import keep_replies
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

PHONES = [f"+861745550{n:03d}" for n in range(12)]
HALF = len(PHONES) // 2  # SQLite prefers the state index from about five keys on


@contextmanager
def planned(db: Database) -> Iterator[list[tuple[str, str]]]:
    """Each statement run inside that names deliveries by key, with SQLite's plan for it."""
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        statements.append((sql, params[0] if many else params))

    event.listen(db.engine, "before_cursor_execute", keep)
    plans: list[tuple[str, str]] = []
    try:
        yield plans
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    with db.engine.connect() as connection:
        cursor = connection.connection.cursor()
        for sql, params in statements:
            if not any(key in sql for key in ("deliveries.id IN", "deliveries.address")):
                continue
            rows = cursor.execute("EXPLAIN QUERY PLAN " + sql, params or ()).fetchall()
            plans.append((sql, "\n".join(str(row[-1]) for row in rows)))


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
def test_callbacks_and_replies_find_deliveries_by_key(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for phone in PHONES:
            f.household(session, grid=grid, phones=(phone,))
    alert_id = fa.issue(db, settings, zones=["V1"], channels=["sms"]).alert.id
    with db.transaction() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.address).where(Delivery.alert_id == alert_id)
        ).all()
        sent = [i for i, address in rows if address in PHONES[:HALF]]
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(sent))
            .values(state=DeliveryState.sent, provider_id="SM" + "0" * 32, sent_at=utcnow())
        )
    with planned(db) as plans:
        with db.transaction() as session:  # the first half's messages arrive
            reports = [StatusReport(i, "SM" + "0" * 32, DeliveryState.delivered) for i in sent]
            assert apply_reports(session, reports, utcnow()) == HALF
        with db.transaction() as session:  # the others answer before theirs went
            replies = [  # the last calls for help: kept one by one, with its acknowledgement
                Inbound(f"SM{n}", PHONES[n], "2" if n == len(PHONES) - 1 else "1", "sms")
                for n in range(HALF, len(PHONES))
            ]
            keep_replies(session, replies, utcnow(), [])
    by_key = plans
    assert any(sql.startswith("UPDATE recipients") for sql, _ in by_key)  # households reached
    assert any(sql.startswith("UPDATE deliveries") for sql, _ in by_key)  # queued withdrawn
    by_state = [sql for sql, plan in by_key if "(state=?" in plan]
    assert by_state == []
    # the senders' deliveries and the acknowledgement check name numbers: by the address
    # index, not every delivery of the alert (50 ms a reply at a million deliveries)
    by_number = [plan for sql, plan in by_key if "deliveries.address" in sql]
    assert len(by_number) >= 2  # the senders' deliveries, and the acknowledgement check
    assert [plan for plan in by_number if "(alert_id=?" in plan] == []
    with db.read() as session:
        states = sorted(
            session.scalars(select(Delivery.state).where(Delivery.alert_id == alert_id))
        )
    assert states.count(DeliveryState.delivered) == HALF
    assert states.count(DeliveryState.cancelled) == HALF
