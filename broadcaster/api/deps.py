"""Request dependencies: database session, settings and role-checked principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.orm import Session

from broadcaster.auth import cookies as web_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal, authenticate_key, touch_key
from broadcaster.db.database import Database
from broadcaster.errors import Forbidden, Unauthenticated
from broadcaster.settings import Settings

# The app-state dependencies are `async def` so FastAPI calls them inline: a plain `def`
# dependency costs a thread-pool hop per request, which showed in the callback profile.


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_settings_dep(request: Request) -> Settings:
    return app_settings(request)


async def get_redis(request: Request) -> redis.Redis | None:
    """The app's Redis client, or None when no Redis is configured (the reconciler catches up)."""
    client: redis.Redis | None = request.app.state.redis
    return client


def read_session(db: Database = Depends(get_db)) -> Iterator[Session]:
    """A reading session for one request; writes go through `db.transaction()` instead."""
    with db.read() as session:
        yield session


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


bearer_scheme = HTTPBearer(auto_error=False, description="API key: Bearer bk_…")


def role_guard(
    request: Request,
    security_scopes: SecurityScopes,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    db: Database = Depends(get_db),
) -> Principal:
    """The caller, if authenticated (else 401) and in one of the route's roles (else 403).

    An API key in `Authorization: Bearer`, or the console's session cookie — then writes
    must also carry the session's CSRF token in `X-CSRF-Token`.
    """
    if credentials is not None and credentials.scheme.lower() == "bearer":
        with db.read() as session:
            principal, stale = authenticate_key(
                session, credentials.credentials, client_ip(request)
            )
        if stale and principal.key_id is not None:
            with db.transaction() as session:
                touch_key(session, principal.key_id)
    else:
        principal = session_principal(request, db)
    if principal.role.value not in security_scopes.scopes:
        allowed = ", ".join(security_scopes.scopes)
        raise Forbidden(f"role {principal.role.value!r} may not do this (allowed: {allowed})")
    return principal


def session_principal(request: Request, db: Database) -> Principal:
    """The user of a console session cookie, or Unauthenticated."""
    secret = app_settings(request).secret_key.get_secret_value().encode()
    found = web_session.signed_in(request)
    if found is None:
        raise Unauthenticated("missing credentials: send Authorization: Bearer <API key>")
    web, user = found
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if unsafe and not web_session.valid_csrf(secret, web, request.headers.get("x-csrf-token")):
        raise Forbidden("缺少或错误的 CSRF 令牌 / missing or wrong CSRF token")
    return Principal(user.id, user.username, user.role, None, client_ip(request))


def allow(*roles: Role) -> Any:
    """The dependency of a route open to these roles; they show in OpenAPI as its scopes."""
    if not roles:
        raise ValueError("a route must allow at least one role")
    return Security(role_guard, scopes=[role.value for role in roles])


ANY_ROLE = tuple(Role)
