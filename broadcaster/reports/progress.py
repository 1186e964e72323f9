"""How far an alert has got: households final, visits, and the time to 50/90/100 % final."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.schemas import Progress
from broadcaster.alerts.states import FINAL
from broadcaster.followup.models import VisitState
from broadcaster.reports.tallies import tallies

SHARES = (50, 90, 100)


def progress(session: Session, alert: Alert, targeted: int) -> Progress:
    """Final households and the time from the current round's start (the issue, or the last
    revision that asked again) until 50, 90 and 100 % of them were final."""
    kept = tallies(session, alert.id)
    final = sum(kept.households[state.value] for state in FINAL)
    start = alert.round_started_at
    timings: dict[str, float | None] = {}
    for share in SHARES:
        needed = math.ceil(targeted * share / 100)
        moment = None
        if targeted and final >= needed and start is not None:
            moment = session.scalar(
                select(Recipient.final_at)
                .where(Recipient.alert_id == alert.id, Recipient.state.in_(FINAL))
                .order_by(Recipient.final_at)
                .offset(needed - 1)
                .limit(1)
            )
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
