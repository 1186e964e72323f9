"""Settle the facts each recipient carries for the tallies (migration 0020): planning writes
households `channelled` and `warned`, then settles those it planned nothing for in one pass."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Recipient
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery
from broadcaster.reports.addressing import visit_open, warned


def _facts() -> dict[str, ColumnElement[bool]]:
    """What each flag must say, from the rows."""
    return {
        "channelled": exists().where(Delivery.recipient_id == Recipient.id),
        "warned": warned(),
        "visiting": visit_open(),
    }


def _wrong(facts: dict[str, ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*(getattr(Recipient, name) != fact for name, fact in facts.items()))


def settle_recipients(session: Session, where: ColumnElement[bool]) -> int:
    """Set each selected household's flags to what its rows say, where they differ; how many
    changed (the triggers move the tallies along)."""
    facts = _facts()
    result = session.execute(
        update(Recipient)
        .where(where, _wrong(facts))
        .values(**facts)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def unsettled_count(session: Session, where: ColumnElement[bool]) -> int:
    """How many selected households carry a flag their rows contradict."""
    query = select(func.count()).select_from(Recipient).where(where, _wrong(_facts()))
    return int(session.scalar(query) or 0)
