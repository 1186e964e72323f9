"""Server-side console sessions: started at sign-in, ended by logout, password change or idling."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from broadcaster.auth.session_models import WebSession
from broadcaster.db.base import utcnow

TOUCH_RESOLUTION = dt.timedelta(minutes=1)  # last_seen_at is written at most once a minute
FORGET_AFTER = dt.timedelta(days=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session, *, user_id: int, token: str, lifetime: dt.timedelta, source_ip: str | None
) -> WebSession:
    """Record a new session for the cookie that carries `token` (and forget the user's
    sessions that ended over a day ago, so the table stays small)."""
    now = utcnow()
    session.execute(
        delete(WebSession).where(
            WebSession.user_id == user_id,
            or_(
                WebSession.expires_at < now - FORGET_AFTER,
                WebSession.revoked_at < now - FORGET_AFTER,
                WebSession.last_seen_at < now - FORGET_AFTER,
            ),
        )
    )
    row = WebSession(
        token_hash=token_hash(token),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        source_ip=source_ip,
    )
    session.add(row)
    return row


def check(session: Session, *, user_id: int, token: str, idle: dt.timedelta) -> tuple[bool, bool]:
    """Whether the session is live (recorded, same user, not revoked, expired or idle too
    long), and whether its last-seen time is stale enough to be worth a write (`touch`)."""
    row = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    now = utcnow()
    if (
        row is None
        or row.user_id != user_id
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.last_seen_at + idle <= now
    ):
        return False, False
    return True, now - row.last_seen_at > TOUCH_RESOLUTION


def touch(session: Session, token: str) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.token_hash == token_hash(token), WebSession.revoked_at.is_(None))
        .values(last_seen_at=utcnow())
    )


def revoke(session: Session, token: str) -> int | None:
    """End one session (logout); returns its user's id when it was live."""
    row = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = utcnow()
    return row.user_id


def revoke_user(session: Session, user_id: int) -> None:
    """End every session of a user (password change, deactivation)."""
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
