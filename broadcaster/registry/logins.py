"""Logins for workers: a field worker, zone lead or loudspeaker operator signs in as themself."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import Actor, record
from broadcaster.auth.models import Role, User
from broadcaster.errors import Conflict, NotFound, ValidationFailed
from broadcaster.registry.models import Worker, WorkerRole

# The console role a worker's login gets: leads work the same field page as their workers.
LOGIN_ROLE: dict[WorkerRole, Role] = {
    WorkerRole.field: Role.field,
    WorkerRole.lead: Role.field,
    WorkerRole.operator: Role.operator,
    WorkerRole.officer: Role.officer,
}
# What `--role` may say: the user roles, and "lead" (a field login for a zone lead).
ROLE_CHOICES = ("admin", "officer", "feed", "operator", "field", "lead")


def user_role(choice: str) -> tuple[Role, WorkerRole | None]:
    """The user role for a `--role` choice, and the worker role it implies (lead only)."""
    if choice == "lead":
        return Role.field, WorkerRole.lead
    try:
        return Role(choice), None
    except ValueError as exc:
        raise ValidationFailed(
            f"未知角色 / unknown role {choice!r} ({', '.join(ROLE_CHOICES)})", field="role"
        ) from exc


def worker_by_phone(session: Session, phone: str) -> Worker:
    """The worker with this phone (any common spelling of it), or a clear error."""
    from broadcaster.registry.importer.values import PhoneError, normalise_phone  # no cycle

    try:
        e164 = normalise_phone(phone.strip()).e164
    except PhoneError as exc:
        raise ValidationFailed(f"{exc} ({phone})", field="worker") from exc
    worker = session.scalar(select(Worker).where(Worker.phone == e164))
    if worker is None:
        raise NotFound(
            f"没有电话为 {e164} 的工作人员 / no worker with phone {e164}", field="worker"
        )
    return worker


def check_fit(worker: Worker, role: Role, implied: WorkerRole | None = None) -> None:
    """A login of `role` may work as this worker (a lead login only for a lead)."""
    if implied is not None and worker.role is not implied:
        raise ValidationFailed(
            f"{worker.name} 的角色是 {worker.role.value}，不是 {implied.value} / "
            f"worker {worker.name} is a {worker.role.value}, not a {implied.value}",
            field="role",
        )
    wanted = LOGIN_ROLE[worker.role]
    if role is not wanted and role is not Role.admin:
        raise ValidationFailed(
            f"{worker.role.value} 工作人员需要 {wanted.value} 角色的账号 / a {worker.role.value} "
            f"worker needs a {wanted.value} login, not {role.value}",
            field="role",
        )


def link_worker(
    session: Session, *, user: User, worker: Worker, actor: Actor, implied: WorkerRole | None = None
) -> Worker:
    """Tie a login to a worker, checking that the login's role fits the worker's job."""
    check_fit(worker, user.role, implied)
    if worker.user_id is not None and worker.user_id != user.id:
        raise Conflict(
            f"{worker.name} 已有账号 / worker {worker.name} already has a login", field="worker"
        )
    other = session.scalar(select(Worker).where(Worker.user_id == user.id, Worker.id != worker.id))
    if other is not None:
        raise Conflict(
            f"账号 {user.username} 已属于 {other.name} / login {user.username} belongs to "
            f"worker {other.name}",
            field="username",
        )
    worker.user_id = user.id
    session.flush()
    record(
        session,
        actor=actor,
        action="worker.link_login",
        object_type="worker",
        object_id=worker.id,
        username=user.username,
        role=user.role.value,
    )
    return worker


def create_worker_login(
    session: Session,
    *,
    username: str,
    role: str,
    worker_phone: str | None,
    actor: Actor,
    display_name: str = "",
    password: str | None = None,
) -> tuple[User, Worker | None]:
    """A new login, tied to the worker with `worker_phone` when one is given."""
    user_role_, implied = user_role(role)
    worker = worker_by_phone(session, worker_phone) if worker_phone else None
    if implied is not None and worker is None:
        raise ValidationFailed(
            "“lead” 账号须指明工作人员 / a lead login needs --worker PHONE", field="worker"
        )
    if worker is not None:
        check_fit(worker, user_role_, implied)
        if worker.user_id is not None:
            raise Conflict(
                f"{worker.name} 已有账号 / worker {worker.name} already has a login", field="worker"
            )
    user = auth_service.create_user(
        session,
        username=username,
        role=user_role_,
        display_name=display_name or (worker.name if worker else ""),
        password=password,
        actor=actor,
    )
    if worker is not None:
        link_worker(session, user=user, worker=worker, actor=actor, implied=implied)
    return user, worker


def new_password() -> str:
    """A password to hand over once (shown, never stored in clear)."""
    return secrets.token_urlsafe(9)


def actor_names(session: Session, actors: set[str]) -> dict[str, str]:
    """Actor names ("user:wang/key:3") to the person's name: their worker's, else the user's."""
    users = {a: a.removeprefix("user:").split("/")[0] for a in actors if a.startswith("user:")}
    rows = session.execute(
        select(User.username, func.coalesce(Worker.name, User.display_name))
        .outerjoin(Worker, Worker.user_id == User.id)
        .where(User.username.in_(set(users.values())))
    )
    found: dict[str, str] = {str(row[0]): str(row[1] or "") for row in rows}
    return {actor: found[name] or name for actor, name in users.items() if name in found}


def import_logins(
    session: Session, wanted: dict[str, tuple[str, int]], *, actor: Actor
) -> list[str]:
    """Logins named in a household import's 包保责任人账号 column, for workers without one;
    what was made or kept, as the import report's notes (passwords are set separately)."""
    notes: list[str] = []
    for phone, (login, row) in wanted.items():
        worker = session.scalar(select(Worker).where(Worker.phone == phone))
        if worker is None:
            continue
        if worker.user_id is not None:
            have = session.scalar(select(User.username).where(User.id == worker.user_id))
            if have != login:
                notes.append(
                    f"第 {row} 行：{worker.name} 已有账号 {have}，未创建 {login} / row {row}: "
                    f"worker {worker.name} already has login {have}; {login} not made"
                )
            continue
        if session.scalar(select(User.id).where(User.username == login)) is not None:
            notes.append(f"第 {row} 行：账号 {login} 已被占用 / row {row}: login {login} is taken")
            continue
        user = auth_service.create_user(
            session,
            username=login,
            role=LOGIN_ROLE[worker.role],
            display_name=worker.name,
            actor=actor,
        )
        link_worker(session, user=user, worker=worker, actor=actor)
        notes.append(
            f"为 {worker.name} 创建了账号 {login}，请设置密码：broadcaster users password "
            f"{login} / login {login} made for {worker.name}; set its password with "
            f"`broadcaster users password {login}`"
        )
    return notes
