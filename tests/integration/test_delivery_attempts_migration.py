"""Migration 0014 gives deliveries that were already leased their latest attempt, and can be
undone and done again."""

from __future__ import annotations

from sqlalchemy import inspect

from broadcaster.db.database import Database
from broadcaster.db.migrate import downgrade, upgrade
from broadcaster.delivery.models import DeliveryState
from broadcaster.settings import Settings
from channels.base import Outcome, SendResult
from tests.integration.ledger_support import attempts_of, leased, record
from tests.integration.migration_support import blank_db  # noqa: F401 (fixture)

S = DeliveryState


def test_existing_deliveries_get_their_latest_attempt(
    blank_db: Database,  # noqa: F811
    settings: Settings,
) -> None:
    upgrade(blank_db.engine)
    _alert_id, lease = leased(blank_db, settings)
    refused, accepted, failed, *untouched = (c.id for c in lease.items)
    record(
        blank_db,
        lease.token,
        SendResult(refused, Outcome.retry, error_code="20500"),
        SendResult(accepted, Outcome.accepted, "SM2"),
        SendResult(failed, Outcome.failed, error_code="21211"),
    )
    downgrade(blank_db.engine, "0013")
    assert "delivery_attempts" not in inspect(blank_db.engine).get_table_names()
    upgrade(blank_db.engine)
    assert attempts_of(blank_db, refused) == [(1, "sms", S.superseded, "20500", None, False)]
    assert attempts_of(blank_db, accepted) == [(1, "sms", S.sent, None, "SM2", False)]
    assert attempts_of(blank_db, failed) == [(1, "sms", S.failed, "21211", None, True)]
    for delivery_id in untouched:
        assert attempts_of(blank_db, delivery_id) == [(1, "sms", S.sending, None, None, False)]
    downgrade(blank_db.engine, "0013")
    upgrade(blank_db.engine)
