"""What the duty board shows live: each active alert's funnel and a version of each section."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, AlertState, AlertStatus, RecipientState
from broadcaster.alerts.states import NOT_FINAL
from broadcaster.confirm.models import HelpRequest
from broadcaster.db.base import utcnow
from broadcaster.delivery.models import LoudspeakerTask, TaskState
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.registry.duty_models import Handover
from broadcaster.registry.roster import on_duty
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.reports.tallies import tallies_of

R = RecipientState
LIVE = (AlertState.sending, AlertState.active)
SHOWN = 12  # active alerts on the board at most (the newest; the rest are in the list)
DRILL_SHOWN_DONE = dt.timedelta(minutes=10)  # a finished drill stays this long, marked done
OPEN_VISITS = (VisitState.open, VisitState.in_progress)
DONE_VISITS = (VisitState.done, VisitState.unable)


@dataclass(frozen=True)
class Funnel:
    """targeted → reached → confirmed / needs help → visits open / done, and % final."""

    alert_id: int
    targeted: int
    pending: int
    reached: int
    confirmed: int
    needs_help: int
    unreachable: int
    visited: int
    final: int
    visits_open: int
    visits_done: int
    complete: bool
    groups_targeted: int = 0  # WeChat/QQ groups under relay: group reach, not households
    groups_relayed: int = 0
    groups_escalated: int = 0
    # Households with nothing under way: no warning going or gone, no open visit (should be 0);
    # counted for one alert's page only (None on the board: a scan per alert every 2 s)
    unaddressed: int | None = None

    @property
    def percent(self) -> float:
        return round(100 * self.final / self.targeted, 1) if self.targeted else 0.0

    @property
    def unanswered(self) -> int:
        """Reached but not yet final (the message arrived; nobody answered yet)."""
        return self.reached - self.final

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "percent": self.percent, "unanswered": self.unanswered}


def funnels(
    session: Session, alert_ids: Iterable[int], unaddressed: Iterable[int] = ()
) -> dict[int, Funnel]:
    """The alerts' tallies, read at once (households by state, visits by state); the
    households unaddressed of the alerts in `unaddressed`."""
    counted = set(unaddressed)
    ids = sorted(set(alert_ids))
    if not ids:
        return {}
    kept = tallies_of(session, ids)
    groups = _relay_counts(session, ids)
    complete = dict(
        session.execute(
            select(Alert.id, Alert.completed_at.is_not(None)).where(Alert.id.in_(ids))
        ).all()
    )
    found: dict[int, Funnel] = {}
    for alert_id in ids:
        tally = kept[alert_id]
        by = {R(state): n for state, n in tally.households.items()}
        visits = (
            sum(tally.visits[state.value] for state in OPEN_VISITS),
            sum(tally.visits[state.value] for state in DONE_VISITS),
        )
        targeted = sum(n for state, n in by.items() if state is not R.released)
        final = by.get(R.confirmed, 0) + by.get(R.needs_help, 0) + by.get(R.visited, 0)
        pending, unreachable = by.get(R.pending, 0), by.get(R.unreachable, 0)
        found[alert_id] = Funnel(
            alert_id=alert_id,
            targeted=targeted,
            pending=pending,
            reached=targeted - pending - unreachable,
            confirmed=by.get(R.confirmed, 0),
            needs_help=by.get(R.needs_help, 0),
            unreachable=unreachable,
            visited=by.get(R.visited, 0),
            final=final,
            visits_open=visits[0],
            visits_done=visits[1],
            complete=bool(complete.get(alert_id)),
            unaddressed=tally.households_without("wv", NOT_FINAL) if alert_id in counted else None,
            **groups.get(alert_id, {}),
        )
    return found


def _relay_counts(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """Relay tasks per alert: groups targeted, relayed, escalated (one grouped count)."""
    rows = session.execute(
        select(
            RelayTask.alert_id,
            func.count(),
            func.sum(case((RelayTask.state == RelayState.forwarded, 1), else_=0)),
            func.sum(case((RelayTask.escalated_at.is_not(None), 1), else_=0)),
        )
        .where(RelayTask.alert_id.in_(ids), RelayTask.state != RelayState.cancelled)
        .group_by(RelayTask.alert_id)
    )
    return {
        alert_id: {
            "groups_targeted": int(n),
            "groups_relayed": int(relayed or 0),
            "groups_escalated": int(escalated or 0),
        }
        for alert_id, n, relayed, escalated in rows
    }


def active_alerts(session: Session) -> list[Alert]:
    """Alerts being sent or followed up, newest first (complete ones after the rest); a drill
    whose every household is final is done: shown so for a few minutes, then off the board."""
    rows = session.scalars(
        select(Alert)
        .where(Alert.state.in_(LIVE), ~finished_drill())
        .order_by(Alert.id.desc())
        .limit(SHOWN)
    ).all()
    return sorted(rows, key=lambda a: (a.completed_at is not None, -a.id))


def finished_drill() -> ColumnElement[bool]:
    """Drills whose households have all been final for a while: no longer on the board."""
    return (
        (Alert.status != AlertStatus.actual)
        & Alert.completed_at.is_not(None)
        & (Alert.completed_at < utcnow() - DRILL_SHOWN_DONE)
    )


def versions(session: Session) -> dict[str, str]:
    """A short token per board section; a section is fetched again when its token changes."""
    alerts = session.execute(
        select(Alert.id, Alert.state, Alert.flagged)
        .where(Alert.state.in_((*LIVE, AlertState.pending_approval)), ~finished_drill())
        .order_by(Alert.id.desc())
        .limit(SHOWN * 2)
    ).all()
    help_n, help_max = session.execute(
        select(func.count(), func.max(HelpRequest.id)).where(HelpRequest.handled_at.is_(None))
    ).one()
    tasks_n, tasks_max = session.execute(
        select(func.count(), func.max(LoudspeakerTask.id)).where(
            LoudspeakerTask.state == TaskState.open
        )
    ).one()
    live = [str(a.id) for a in alerts if a.state in LIVE]
    pending = [str(a.id) for a in alerts if a.state is AlertState.pending_approval]
    found = {
        "alerts": ",".join(live) + "|" + ",".join(str(int(a.flagged)) for a in alerts),
        "approvals": ",".join(pending),
        "help": f"{help_n}:{help_max or 0}",
        "speakers": f"{tasks_n}:{tasks_max or 0}",
    }
    found["shift"] = "|".join((_shift_version(session), *found.values()))
    return found


def _shift_version(session: Session) -> str:
    """Who is on duty, handovers waiting, escalated relays and flagged visits: the shift card
    changes with them (and with the sections above)."""
    on = ",".join(str(s.id) for s, _u in on_duty(session, utcnow()))
    handovers = session.execute(
        select(func.count(), func.max(Handover.id)).where(Handover.acknowledged_at.is_(None))
    ).one()
    relays = session.scalar(select(func.count()).where(RelayTask.state == RelayState.escalated))
    flagged = session.scalar(
        select(func.count()).where(VisitTask.state.in_(OPEN_VISITS), VisitTask.flagged.is_(True))
    )
    return f"{on}:{handovers[0]}:{handovers[1] or 0}:{relays}:{flagged}"


def snapshot(session: Session, extra_alert: int | None = None) -> dict[str, Any]:
    """Everything the board's script needs to update itself, as plain JSON-able data."""
    shown = [a.id for a in active_alerts(session)]
    if extra_alert is not None:
        shown.append(extra_alert)
    return {
        "alerts": {
            str(k): f.as_dict()
            for k, f in funnels(session, shown, [extra_alert] if extra_alert else ()).items()
        },
        "versions": versions(session),
    }
