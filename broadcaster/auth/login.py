"""Console sign-in and sign-out: throttled, audited, backed by a server-side session."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from broadcaster.auth import sessions, throttle
from broadcaster.auth.audit import Actor, record
from broadcaster.auth.models import Role, User
from broadcaster.auth.service import authenticate_password
from broadcaster.db.database import Database
from broadcaster.errors import Unauthenticated
from broadcaster.settings import SecuritySettings


@dataclass(frozen=True)
class Outcome:
    """A sign-in's result: a user and a fresh session token, or why not."""

    user_id: int | None = None
    role: Role | None = None
    token: str | None = None
    retry_after: float = 0.0


def policy(settings: SecuritySettings) -> throttle.Policy:
    return throttle.Policy(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        lockout=dt.timedelta(seconds=settings.login_lockout_seconds),
        max_lockout=dt.timedelta(seconds=settings.login_lockout_max_seconds),
    )


def sign_in(
    db: Database,
    *,
    username: str,
    password: str,
    source_ip: str | None,
    settings: SecuritySettings,
) -> Outcome:
    """Check the throttle, then the password; record the attempt either way."""
    username = username.strip()[:64]
    claimed = Actor(f"login:{username}", source_ip)
    with db.read() as session:
        wait = throttle.retry_after(session, username, source_ip)
    if wait > 0:
        with db.transaction() as session:
            record(
                session,
                actor=claimed,
                action="login.throttled",
                object_type="login",
                object_id=username,
                retry_after=round(wait),
            )
        return Outcome(retry_after=wait)
    try:
        with db.read() as session:
            user: User | None = authenticate_password(session, username, password)
    except Unauthenticated:
        user = None
    with db.transaction() as session:
        if user is None:
            throttle.failed(
                session, username=username, source_ip=source_ip, policy=policy(settings)
            )
            record(
                session,
                actor=claimed,
                action="login.failed",
                object_type="login",
                object_id=username,
            )
            return Outcome()
        throttle.succeeded(session, username=username)
        token = secrets.token_hex(16)
        sessions.start(
            session,
            user_id=user.id,
            token=token,
            lifetime=dt.timedelta(hours=settings.session_hours),
            source_ip=source_ip,
        )
        record(
            session,
            actor=Actor(f"user:{user.username}", source_ip),
            action="login.ok",
            object_type="user",
            object_id=user.id,
        )
    return Outcome(user.id, user.role, token)


def sign_out(db: Database, *, token: str, source_ip: str | None) -> None:
    """Revoke the session at once; the cookie is worthless from here on."""
    with db.transaction() as session:
        user_id = sessions.revoke(session, token)
        if user_id is None:
            return
        user = session.get(User, user_id)
        name = user.username if user else str(user_id)
        record(
            session,
            actor=Actor(f"user:{name}", source_ip),
            action="logout",
            object_type="user",
            object_id=user_id,
        )
