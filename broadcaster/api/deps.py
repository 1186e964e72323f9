"""Request dependencies: database session, settings and role-checked principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.orm import Session

from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal, authenticate_key, touch_key
from broadcaster.db.database import Database
from broadcaster.errors import Forbidden, Unauthenticated
from broadcaster.settings import Settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_redis(request: Request) -> redis.Redis | None:
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
    """The caller, if authenticated (else 401) and in one of the route's roles (else 403)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("missing credentials: send Authorization: Bearer <API key>")
    with db.read() as session:
        principal, stale = authenticate_key(session, credentials.credentials, client_ip(request))
    if stale and principal.key_id is not None:
        with db.transaction() as session:
            touch_key(session, principal.key_id)
    if principal.role.value not in security_scopes.scopes:
        allowed = ", ".join(security_scopes.scopes)
        raise Forbidden(f"role {principal.role.value!r} may not do this (allowed: {allowed})")
    return principal


def allow(*roles: Role) -> Any:
    """The dependency of a route open to these roles; they show in OpenAPI as its scopes."""
    if not roles:
        raise ValueError("a route must allow at least one role")
    return Security(role_guard, scopes=[role.value for role in roles])


ANY_ROLE = tuple(Role)
