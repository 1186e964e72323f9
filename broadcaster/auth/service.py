"""Users and API keys: create, authenticate, revoke, bootstrap."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broadcaster.auth import secrets as keys
from broadcaster.auth import sessions
from broadcaster.auth.audit import SYSTEM, Actor, record
from broadcaster.auth.models import ApiKey, Role, User
from broadcaster.db.base import utcnow
from broadcaster.errors import Conflict, NotFound, Unauthenticated, ValidationFailed

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    username: str
    role: Role
    key_id: int | None = None
    source_ip: str | None = None

    @property
    def actor(self) -> Actor:
        suffix = f"/key:{self.key_id}" if self.key_id else ""
        return Actor(f"user:{self.username}{suffix}", self.source_ip)


def create_user(
    session: Session,
    *,
    username: str,
    role: Role,
    actor: Actor,
    display_name: str = "",
    password: str | None = None,
) -> User:
    """Add a user; the username must be new."""
    username = username.strip()
    if not username:
        raise ValidationFailed("username must not be empty", field="username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} exists already", field="username")
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        password_hash=keys.hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        username=username,
        role=role.value,
    )
    return user


def set_password(session: Session, *, user: User, password: str, actor: Actor) -> None:
    """Replace a user's console password; their console sessions end at once."""
    if len(password) < 8:
        raise ValidationFailed("password must have at least 8 characters", field="password")
    user.password_hash = keys.hash_password(password)
    sessions.revoke_user(session, user.id)  # every signed-in browser must sign in again
    record(session, actor=actor, action="user.password", object_type="user", object_id=user.id)


def create_api_key(
    session: Session, *, user: User, actor: Actor, name: str = "", key: str | None = None
) -> tuple[ApiKey, str]:
    """Issue a key for a user; returns the row and the key, which is never shown again."""
    key = key or keys.new_api_key()
    row = ApiKey(
        user_id=user.id, name=name, prefix=keys.key_prefix(key), key_hash=keys.hash_api_key(key)
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="api_key.create",
        object_type="api_key",
        object_id=row.id,
        user=user.username,
        name=name,
    )
    return row, key


def revoke_api_key(session: Session, *, key_id: int, actor: Actor) -> ApiKey:
    """Revoke a key; revoking twice is harmless."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"api key {key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(
            session, actor=actor, action="api_key.revoke", object_type="api_key", object_id=key_id
        )
    return row


def authenticate_key(
    session: Session, key: str, source_ip: str | None = None
) -> tuple[Principal, bool]:
    """The principal behind a bearer key (or Unauthenticated), and whether its
    last-used time is stale enough to be worth a write (see `touch_key`)."""
    row = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == keys.hash_api_key(key)).join(ApiKey.user)
    )
    if row is None or row.revoked_at is not None or not row.user.active:
        raise Unauthenticated("invalid or revoked API key")
    stale = row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_RESOLUTION
    return Principal(row.user.id, row.user.username, row.user.role, row.id, source_ip), stale


def touch_key(session: Session, key_id: int) -> None:
    """Record that a key was just used."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))


def authenticate_password(session: Session, username: str, password: str) -> User:
    """The active user with this username and password, or Unauthenticated."""
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None else _decoy_hash()
    matches = keys.verify_password(password, stored)  # as slow for unknown names as known
    if user is None or not user.active or not matches:
        raise Unauthenticated("wrong username or password")
    return user


@cache
def _decoy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return keys.hash_password("no user has this password: timing only")


def ensure_bootstrap_key(session: Session, *, key: str, username: str = "admin") -> User:
    """Make sure an admin user holds exactly this key (for automation and the demo)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = create_user(
            session, username=username, role=Role.admin, actor=SYSTEM, display_name="管理员"
        )
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == keys.hash_api_key(key)))
    if existing is None:
        create_api_key(session, user=user, actor=SYSTEM, name="bootstrap", key=key)
    elif existing.revoked_at is not None or existing.user_id != user.id:
        raise Conflict("the bootstrap API key was revoked or belongs to another user")
    return user
