"""Per-alert tallies (households, deliveries, visit tasks, attempts) that the triggers of
migrations 0020 and 0021 keep: read by key, folded, and checked against a recount."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.db.base import Base
from broadcaster.db.database import rowcount
from broadcaster.delivery.models import Delivery
from broadcaster.followup.models import VisitTask
from broadcaster.reports.addressing import visit_open, warned
from broadcaster.reports.providers import attempt_counts

log = logging.getLogger(__name__)

HOUSEHOLD, DELIVERY, VISIT, ATTEMPT = "household", "delivery", "visit", "attempt"
CHECK_LOCK = 740_020  # PostgreSQL advisory lock: one fold or check at a time
CHECKED_ALERTS = 50  # the newest alerts still moving (or done within a day) are checked


class AlertTally(Base):
    """One key's count, or (PostgreSQL) one statement's change to it: a read sums them."""

    __tablename__ = "alert_tallies"

    alert_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, server_default="0")
    n: Mapped[int] = mapped_column(BigInteger)


@dataclass
class Tallies:
    """Households by (flags, state) — flags: `c` channelled, `w` warned, `v` visiting;
    deliveries by (channel, state); visit tasks by state; attempts by (provider, medium,
    category) as `reports.providers` counts them."""

    flagged: Counter[tuple[str, str]] = field(default_factory=Counter)
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)
    visits: Counter[str] = field(default_factory=Counter)
    attempts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    @property
    def households(self) -> Counter[str]:
        """Households by state."""
        found: Counter[str] = Counter()
        for (_flags, state), n in self.flagged.items():
            found[state] += n
        return found

    def households_without(self, flags: str, states: Iterable[str]) -> int:
        """Households in one of `states` carrying none of `flags`."""
        wanted = set(states)
        return sum(
            n
            for (have, state), n in self.flagged.items()
            if state in wanted and not set(flags) & set(have)
        )

    def add(self, subject: str, channel: str, state: str, n: int) -> None:
        if not n:
            return
        if subject == HOUSEHOLD:
            self.flagged[(channel, state)] += n
        elif subject == VISIT:
            self.visits[state] += n
        elif subject == ATTEMPT:
            medium, _, category = state.partition(":")
            self.attempts[(channel, medium, category)] += n
        else:
            self.deliveries[(channel, state)] += n

    def rows(self) -> list[tuple[str, str, str, int]]:
        """(subject, channel, state, count) of every count that is not 0."""
        found = [(HOUSEHOLD, flags, state, n) for (flags, state), n in self.flagged.items()]
        found += [(DELIVERY, ch, state, n) for (ch, state), n in self.deliveries.items()]
        found += [(VISIT, "", state, n) for state, n in self.visits.items()]
        found += [(ATTEMPT, p, f"{m}:{c}", n) for (p, m, c), n in self.attempts.items()]
        return [row for row in found if row[3]]

    def keyed(self) -> dict[str, int]:
        """Every count under one flat key (`subject:channel or flags:state`)."""
        return {":".join(filter(None, (s, ch, st))): n for s, ch, st, n in self.rows()}


def tallies(session: Session, alert_id: int) -> Tallies:
    """The alert's tallies as of this session's snapshot: a few rows read by key."""
    return tallies_of(session, [alert_id])[alert_id]


def tallies_of(session: Session, alert_ids: Iterable[int]) -> dict[int, Tallies]:
    """Several alerts' tallies in one query."""
    found = {alert_id: Tallies() for alert_id in alert_ids}
    t = AlertTally
    rows = session.execute(
        select(t.alert_id, t.subject, t.channel, t.state, func.sum(t.n))
        .where(t.alert_id.in_(list(found)))
        .group_by(t.alert_id, t.subject, t.channel, t.state)
    )
    for alert_id, subject, channel, state, n in rows:
        found[alert_id].add(subject, channel, state, int(n or 0))
    return found


def recount(session: Session, alert_id: int) -> Tallies:
    """The same figures counted from the rows themselves (a scan of the alert's rows)."""
    found = Tallies()
    facts = (
        select(
            Recipient.state,
            exists().where(Delivery.recipient_id == Recipient.id).label("c"),
            warned().label("w"),
            visit_open().label("v"),
        )
        .where(Recipient.alert_id == alert_id)
        .subquery()
    )
    for household_state, *flags, n in session.execute(
        select(*facts.c, func.count()).group_by(*facts.c)
    ):
        letters = "".join(letter for letter, on in zip("cwv", flags, strict=True) if on)
        found.add(HOUSEHOLD, letters, RecipientState(household_state).value, int(n))
    for channel, delivery_state, n in session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.alert_id == alert_id)
        .group_by(Delivery.channel, Delivery.state)
    ):
        found.add(DELIVERY, channel, delivery_state.value, int(n))
    for visit_state, n in session.execute(
        select(VisitTask.state, func.count())
        .where(VisitTask.alert_id == alert_id)
        .group_by(VisitTask.state)
    ):
        found.add(VISIT, "", visit_state.value, int(n))
    found.attempts = attempt_counts(session, alert_id)
    return found


_FOLD = """
WITH gone AS (
    DELETE FROM alert_tallies t
    WHERE (t.alert_id, t.subject, t.channel, t.state) IN (
        SELECT alert_id, subject, channel, state FROM alert_tallies
        GROUP BY 1, 2, 3, 4 HAVING count(*) > 1)
    RETURNING t.alert_id, t.subject, t.channel, t.state, t.n)
INSERT INTO alert_tallies (alert_id, subject, channel, state, seq, n)
SELECT alert_id, subject, channel, state, nextval('alert_tallies_seq'), sum(n)
FROM gone GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
"""


def fold(session: Session) -> int:
    """PostgreSQL: fold every key's deltas into one row (SQLite keeps one row per key).
    Deltas committed meanwhile are not seen by the DELETE and stay: nothing is lost."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECK_LOCK})
    return rowcount(session.execute(text(_FOLD)))


def _replace(session: Session, alert_id: int, counted: Tallies) -> None:
    """The alert's tallies become `counted` (deltas committed after this snapshot stay)."""
    session.execute(delete(AlertTally).where(AlertTally.alert_id == alert_id))
    postgres = session.get_bind().dialect.name == "postgresql"
    seq = text("nextval('alert_tallies_seq')") if postgres else 0
    for subject, channel, state, n in counted.rows():
        session.execute(
            insert(AlertTally).values(
                alert_id=alert_id, subject=subject, channel=channel, state=state, seq=seq, n=n
            )
        )


def drift(kept: Tallies, counted: Tallies) -> dict[str, int]:
    """Each key whose tally differs from the recount: recount minus tally."""
    tallied, recounted = kept.keyed(), counted.keyed()
    found = {key: recounted.get(key, 0) - tallied.get(key, 0) for key in tallied | recounted}
    return {key: diff for key, diff in sorted(found.items()) if diff}


def check_alert(session: Session, alert_id: int, *, mend: bool = True) -> dict[str, int]:
    """Recount one alert in the tallies' snapshot; report (and `mend`) any drift. Start its
    transaction with `checking`: on PostgreSQL the snapshot must be REPEATABLE READ."""
    counted = recount(session, alert_id)
    found = drift(tallies(session, alert_id), counted)
    if found and mend:
        log.warning("alert %s: tallies drifted from the recount, mended: %s", alert_id, found)
        _replace(session, alert_id, counted)
    return found


def alerts_to_check(session: Session, now: dt.datetime) -> list[int]:
    """The newest alerts still moving or completed within the last day."""
    recent = or_(Alert.completed_at.is_(None), Alert.completed_at > now - dt.timedelta(days=1))
    query = select(Alert.id).where(recent).order_by(Alert.id.desc()).limit(CHECKED_ALERTS)
    return list(session.scalars(query))


def checking(session: Session, *, writing: bool = True) -> None:
    """Start a check's transaction: one snapshot for tallies and recount (on SQLite every
    transaction is one); one checker or folder at a time when it is `writing`."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if writing:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECK_LOCK})
