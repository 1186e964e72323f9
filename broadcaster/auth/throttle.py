"""Login throttling per account and per client address, kept in the database (the record).

The counters live in SQL rather than Redis: every API process sees them, a lockout
survives a Redis restart, and sign-ins are few enough that one row write each costs
nothing. A scope is locked once its failures reach the threshold; each further failure
after the lock has passed doubles the lockout, up to a ceiling. While locked, every
sign-in (even with the right password) is refused with 429 and Retry-After.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcaster.auth.session_models import LoginThrottle
from broadcaster.db.base import utcnow


@dataclass(frozen=True)
class Policy:
    per_account: int
    per_address: int
    lockout: dt.timedelta
    max_lockout: dt.timedelta


def scopes(username: str, source_ip: str | None) -> dict[str, int | None]:
    """The throttled scopes of one attempt: its account and its address (None: no limit)."""
    found: dict[str, int | None] = {"user:" + username.strip().lower()[:150]: None}
    if source_ip:
        found["ip:" + source_ip[:64]] = None
    return found


def retry_after(session: Session, username: str, source_ip: str | None) -> float:
    """Seconds until a sign-in may be tried again (0 when not locked)."""
    now = utcnow()
    names = list(scopes(username, source_ip))
    locks = session.scalars(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.scope.in_(names), LoginThrottle.locked_until > now
        )
    )
    return max(((until - now).total_seconds() for until in locks if until), default=0.0)


def failed(session: Session, *, username: str, source_ip: str | None, policy: Policy) -> None:
    """Count a failed sign-in against the account and the address; lock at the threshold."""
    now = utcnow()
    for scope in scopes(username, source_ip):
        threshold = policy.per_account if scope.startswith("user:") else policy.per_address
        row = _row(session, scope)
        if row.first_failed_at + policy.max_lockout < now and (
            row.locked_until is None or row.locked_until < now
        ):
            row.failures, row.first_failed_at = 0, now  # a quiet hour forgets old failures
        row.failures += 1
        if row.failures >= threshold:
            doublings = min(row.failures - threshold, 20)
            seconds = min(
                policy.lockout.total_seconds() * 2**doublings, policy.max_lockout.total_seconds()
            )
            row.locked_until = now + dt.timedelta(seconds=seconds)


def succeeded(session: Session, *, username: str) -> None:
    """A good sign-in clears its account's failures (not its address's)."""
    account = next(iter(scopes(username, None)))
    session.execute(delete(LoginThrottle).where(LoginThrottle.scope == account))


def _row(session: Session, scope: str) -> LoginThrottle:
    """The scope's counter, locked for this transaction (created when missing)."""
    row = session.get(LoginThrottle, scope, with_for_update=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(LoginThrottle(scope=scope, failures=0, first_failed_at=utcnow()))
    except IntegrityError:
        pass  # another process created it meanwhile
    row = session.get(LoginThrottle, scope, with_for_update=True, populate_existing=True)
    assert row is not None
    return row
