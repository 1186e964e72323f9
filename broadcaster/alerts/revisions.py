"""Revisions of an alert: each update, all-clear or cancel is kept as it was sent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import (
    Alert,
    AlertRevision,
    Recipient,
    RecipientRound,
    RecipientState,
    RevisionKind,
)


def first_revision(session: Session, alert: Alert) -> None:
    """Keep the alert as first issued (revision 1) before anything changes it; alerts get
    their revision rows on their first change, so issuing stays one INSERT lighter."""
    exists = session.scalar(
        select(func.count()).where(AlertRevision.alert_id == alert.id, AlertRevision.number == 1)
    )
    if exists or alert.revision != 1:
        return
    session.add(
        _row(
            alert,
            kind=RevisionKind.alert,
            asks_again=True,
            identifier=alert.identifier,
            created_at=alert.issued_at or alert.created_at,
            created_by=alert.created_by,
        )
    )


def record_revision(
    session: Session,
    alert: Alert,
    *,
    kind: RevisionKind,
    asks_again: bool,
    identifier: str | None,
    now: dt.datetime,
    by: str,
) -> AlertRevision:
    """The alert's current revision as it now reads (call after applying the change)."""
    row = _row(
        alert,
        kind=kind,
        asks_again=asks_again,
        identifier=identifier,
        created_at=now,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return row


def _row(
    alert: Alert,
    *,
    kind: RevisionKind,
    asks_again: bool,
    identifier: str | None,
    created_at: dt.datetime,
    created_by: str,
) -> AlertRevision:
    return AlertRevision(
        alert_id=alert.id,
        number=alert.revision,
        kind=kind,
        level=alert.level,
        hazard=alert.hazard,
        headline=alert.headline,
        body=alert.body,
        instruction=alert.instruction,
        zone_codes=list(alert.zone_codes),
        expires_at=alert.expires_at,
        evacuate=alert.evacuate,
        asks_again=asks_again,
        identifier=(identifier or "")[:120] or None,
        created_at=created_at,
        created_by=created_by[:100],
        households_added=0,
        households_released=0,
        deliveries={},
        note="",
    )


def revisions_of(session: Session, alert: Alert) -> list[AlertRevision]:
    """The alert's revisions, oldest first (an alert never changed has just its first, made
    up from the alert itself and not saved)."""
    rows = list(
        session.scalars(
            select(AlertRevision)
            .where(AlertRevision.alert_id == alert.id)
            .order_by(AlertRevision.number)
        )
    )
    if rows:
        return rows
    return [
        _row(
            alert,
            kind=RevisionKind.alert,
            asks_again=True,
            identifier=alert.identifier,
            created_at=alert.issued_at or alert.created_at,
            created_by=alert.created_by,
        )
    ]


def round_tallies(session: Session, alert: Alert) -> dict[int, dict[RecipientState, int]]:
    """Households by state at the end of each earlier round, and now in the current one (the
    history of answers that a raised level or an evacuation order asked again)."""
    tallies: dict[int, dict[RecipientState, int]] = {}
    for number, state, count in session.execute(
        select(RecipientRound.round, RecipientRound.state, func.count())
        .where(RecipientRound.alert_id == alert.id)
        .group_by(RecipientRound.round, RecipientRound.state)
    ):
        tallies.setdefault(int(number), {})[state] = int(count)
    current = tallies.setdefault(alert.round, {})
    for state, count in session.execute(
        select(Recipient.state, func.count())
        .where(Recipient.alert_id == alert.id, Recipient.round >= alert.round)
        .group_by(Recipient.state)
    ):
        current[state] = current.get(state, 0) + int(count)
    return dict(sorted(tallies.items()))


def closing_notes(session: Session, alert_id: int) -> dict[str, str]:
    """The officer's words with the alert's all-clear or cancel, by notice (all_clear, cancel)."""
    rows = session.execute(
        select(AlertRevision.kind, AlertRevision.note).where(
            AlertRevision.alert_id == alert_id,
            AlertRevision.kind.in_((RevisionKind.all_clear, RevisionKind.cancel)),
        )
    )
    return {kind.value: note for kind, note in rows if note}
