"""The demo's worker logins: every generated worker can sign in as themself at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from broadcaster.auth import secrets as keys
from broadcaster.auth.audit import SYSTEM, record
from broadcaster.auth.models import User
from broadcaster.registry.logins import LOGIN_ROLE, new_password
from broadcaster.registry.models import Worker, WorkerRole


@dataclass(frozen=True)
class DemoLogins:
    """The password all demo worker logins share this run, and one login per kind of work."""

    password: str
    field: str | None
    operator: str | None
    lead: str | None
    count: int


def username_of(worker_id: int, role: WorkerRole) -> str:
    return f"{role.value}-{worker_id}"


def ensure_worker_logins(session: Session, password: str | None = None) -> DemoLogins:
    """Give every active worker without a login one (named like "field-12"), tied to them;
    all demo worker logins get this run's password (hashed once: a demo, not a register)."""
    password = password or new_password()
    hashed = keys.hash_password(password)
    workers = session.execute(
        select(Worker.id, Worker.role, Worker.name, Worker.user_id, User.username)
        .outerjoin(User, User.id == Worker.user_id)
        .where(Worker.active.is_(True))
        .order_by(Worker.id)
    ).all()
    taken = set(session.scalars(select(User.username)))
    new = [
        {
            "username": username_of(w.id, w.role),
            "role": LOGIN_ROLE[w.role],
            "display_name": w.name,
            "password_hash": hashed,
        }
        for w in workers
        if w.user_id is None and username_of(w.id, w.role) not in taken
    ]
    ids: dict[str, int] = {}
    if new:
        session.execute(insert(User), new)
        made = select(User.username, User.id).where(User.username.in_([n["username"] for n in new]))
        ids = {str(row[0]): int(row[1]) for row in session.execute(made)}
        links = [
            {"id": w.id, "user_id": ids[username_of(w.id, w.role)]}
            for w in workers
            if w.user_id is None and username_of(w.id, w.role) in ids
        ]
        session.execute(update(Worker), links)
    # the demo's own logins: just made, or made by an earlier run (an administrator's are kept)
    demo_names = [
        username_of(w.id, w.role)
        for w in workers
        if username_of(w.id, w.role) in ids or w.username == username_of(w.id, w.role)
    ]
    session.execute(
        update(User)
        .where(User.username.in_(demo_names))
        .values(password_hash=hashed)
        .execution_options(synchronize_session=False)
    )
    record(session, actor=SYSTEM, action="demo.worker_logins", created=len(new))

    def first(role: WorkerRole) -> str | None:
        found = [n for w in workers if w.role is role for n in [username_of(w.id, w.role)]]
        return next((n for n in found if n in demo_names), None)

    return DemoLogins(
        password,
        first(WorkerRole.field),
        first(WorkerRole.operator),
        first(WorkerRole.lead),
        len(new),
    )
