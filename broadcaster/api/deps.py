"""Request dependencies: database session, settings and role-checked principal."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal, authenticate_key
from broadcaster.db.database import Database
from broadcaster.errors import Forbidden, Unauthenticated
from broadcaster.settings import Settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(db: Database = Depends(get_db)) -> Iterator[Session]:
    """A session for one request; routes that write commit it themselves."""
    with db.sessions() as session:
        yield session


def bearer_key(request: Request) -> str | None:
    """The key of an `Authorization: Bearer …` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class RoleGuard:
    """A dependency that admits only the listed roles; routes declare theirs with `allow`."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    def __call__(self, request: Request, session: Session = Depends(get_session)) -> Principal:
        principal = self.authenticate(request, session)
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise Forbidden(f"role {principal.role.value!r} may not do this (allowed: {allowed})")
        return principal

    @staticmethod
    def authenticate(request: Request, session: Session) -> Principal:
        key = bearer_key(request)
        if key is None:
            raise Unauthenticated("missing credentials: send Authorization: Bearer <API key>")
        principal = authenticate_key(session, key, client_ip(request))
        if session.dirty:
            session.commit()
        return principal


def allow(*roles: Role) -> RoleGuard:
    """The guard for a route open to these roles."""
    if not roles:
        raise ValueError("a route must allow at least one role")
    return RoleGuard(frozenset(roles))


ANY_ROLE = tuple(Role)
