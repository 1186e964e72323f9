"""Settle the facts each recipient carries for the tallies (migration 0020): planning writes
households `channelled` and `warned`, then settles those it planned nothing for in one pass."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery
from broadcaster.reports.addressing import visit_open, warned


def settle_recipients(session: Session, where: ColumnElement[bool]) -> int:
    """Set each selected household's flags to what its rows say, where they differ; how many
    changed (the triggers move the tallies along)."""
    channelled = exists().where(Delivery.recipient_id == Recipient.id)
    live, visiting = warned(), visit_open()
    wrong = or_(
        Recipient.channelled != channelled,
        Recipient.warned != live,
        Recipient.visiting != visiting,
    )
    result = session.execute(
        update(Recipient)
        .where(where, wrong)
        .values(channelled=channelled, warned=live, visiting=visiting)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
