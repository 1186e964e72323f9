"""The tally ticks: fold PostgreSQL's tally deltas; recount the live alerts' tallies; keep the
planner's statistics of the tables a fan-out grows."""

from __future__ import annotations

import logging
from typing import Any

from broadcaster.alerts.models import Recipient
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.db.statistics import refresh_stale
from broadcaster.delivery.runtime import runtime
from broadcaster.flows.settling import settle_recipients, unsettled_count
from broadcaster.reports import tallies

log = logging.getLogger(__name__)


def fold() -> dict[str, Any]:
    """Fold every key's deltas into one row (PostgreSQL; nothing to do on SQLite)."""
    with runtime().db.transaction() as session:
        return {"folded": tallies.fold(session)}


def check() -> dict[str, Any]:
    """The periodic check of the live alerts' tallies."""
    return check_alerts(runtime().db)


def check_alerts(db: Database) -> dict[str, Any]:
    """Recount each live alert in a reading snapshot (no write lock); one that drifted is
    mended in a writing one: households with wrong flags settled, then the tallies."""
    with db.read() as session:
        alert_ids = tallies.alerts_to_check(session, utcnow())
    drifted: dict[int, dict[str, int]] = {}
    for alert_id in alert_ids:
        with db.read() as session:
            tallies.checking(session, writing=False)
            wrong = unsettled_count(session, Recipient.alert_id == alert_id)
            found = tallies.check_alert(session, alert_id, mend=False)
        if wrong or found:
            drifted[alert_id] = _mend(db, alert_id)
    return {"checked": len(alert_ids), "drifted": drifted}


def _mend(db: Database, alert_id: int) -> dict[str, int]:
    """Settle the alert's households, then mend its tallies; what was wrong."""
    with db.transaction() as session:
        tallies.checking(session)
        settled = settle_recipients(session, Recipient.alert_id == alert_id)
        found = tallies.check_alert(session, alert_id)
    if settled:
        log.warning("alert %s: %s households' flags were wrong, settled", alert_id, settled)
        found["households settled"] = settled
    return found


def statistics() -> dict[str, Any]:
    """Sample again the tables whose planner statistics fell behind (PostgreSQL)."""
    with runtime().db.transaction() as session:
        return {"sampled": refresh_stale(session)}
