"""How far an alert has got: households final, visits, and the time to 50/90/100 % final."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Integer, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.schemas import Progress
from broadcaster.alerts.states import CONCERNED, FINAL
from broadcaster.db.base import Base, UTCDateTime
from broadcaster.followup.models import VisitState
from broadcaster.reports.tallies import Tallies, tallies

SHARES = (50, 90, 100)


class AlertFinalTime(Base):
    """When the `share` % of a round's households was final (for that many households):
    written once by the follow-up tick, so reads need not sort a million households."""

    __tablename__ = "alert_final_times"

    alert_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    share: Mapped[int] = mapped_column(Integer, primary_key=True)
    households: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _needed(targeted: int, share: int) -> int:
    return math.ceil(targeted * share / 100)


def _moment(session: Session, alert: Alert, needed: int) -> dt.datetime | None:
    """When the `needed`-th household was final (a sort of the final ones)."""
    return session.scalar(
        select(Recipient.final_at)
        .where(Recipient.alert_id == alert.id, Recipient.state.in_(FINAL))
        .order_by(Recipient.final_at)
        .offset(needed - 1)
        .limit(1)
    )


def _kept_moments(session: Session, alert: Alert, targeted: int) -> dict[int, dt.datetime]:
    rows = session.execute(
        select(AlertFinalTime.share, AlertFinalTime.at).where(
            AlertFinalTime.alert_id == alert.id,
            AlertFinalTime.round == alert.round,
            AlertFinalTime.households == targeted,
        )
    )
    return {int(share): at for share, at in rows}


def _in(kept: Tallies, states: tuple[RecipientState, ...]) -> int:
    """Households in one of `states` (the households by state summed once)."""
    by_state = kept.households
    return sum(by_state[state.value] for state in states)


def record_final_times(session: Session, alert: Alert) -> int:
    """Keep the moments of the shares the alert's round has reached; how many were new."""
    kept = tallies(session, alert.id)
    targeted, final = _in(kept, CONCERNED), _in(kept, FINAL)
    known = _kept_moments(session, alert, targeted)
    added = 0
    for share in SHARES:
        if not targeted or share in known or final < _needed(targeted, share):
            continue
        moment = _moment(session, alert, _needed(targeted, share))
        if moment is not None:
            session.add(
                AlertFinalTime(
                    alert_id=alert.id,
                    round=alert.round,
                    share=share,
                    households=targeted,
                    at=moment,
                )
            )
            added += 1
    return added


def progress(session: Session, alert: Alert, targeted: int) -> Progress:
    """Final households and the time from the current round's start (the issue, or the last
    revision that asked again) until 50, 90 and 100 % of them were final (kept by the
    follow-up tick; sorted for here only in the seconds before it keeps them)."""
    kept = tallies(session, alert.id)
    final = _in(kept, FINAL)
    start = alert.round_started_at
    known = _kept_moments(session, alert, targeted)
    timings: dict[str, float | None] = {}
    for share in SHARES:
        moment = known.get(share)
        if moment is None and targeted and final >= _needed(targeted, share) and start:
            moment = _moment(session, alert, _needed(targeted, share))
        timings[f"p{share}"] = (
            round((moment - start).total_seconds(), 1)
            if moment is not None and start is not None
            else None
        )
    visits = {state.value: kept.visits[state.value] for state in VisitState}
    return Progress(
        households_final=final,
        complete=alert.completed_at is not None,
        seconds_to_final=timings,
        visits=visits,
    )
