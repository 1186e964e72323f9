"""Users and API keys (administrators only), and who-am-I for every role."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.api.deps import ANY_ROLE, allow, get_db, read_session
from broadcaster.auth import service
from broadcaster.auth.models import ApiKey, Role, User
from broadcaster.auth.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, UserIn, UserOut
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.errors import NotFound
from broadcaster.registry.logins import create_worker_login

router = APIRouter(tags=["auth"])
admin_only = allow(Role.admin)


@router.get("/me")
def me(principal: Principal = allow(*ANY_ROLE)) -> dict[str, str | int]:
    """The caller's user and role."""
    return {
        "user_id": principal.user_id,
        "username": principal.username,
        "role": principal.role.value,
    }


@router.get("/users", response_model=list[UserOut])
def list_users(session: Session = Depends(read_session), _: Principal = admin_only) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(
    body: UserIn, db: Database = Depends(get_db), who: Principal = admin_only
) -> UserOut:
    """A user; with `worker` (a worker's phone), that worker's login."""
    with db.transaction() as session:
        user, worker = create_worker_login(
            session,
            username=body.username,
            role=str(body.role),
            worker_phone=body.worker,
            display_name=body.display_name,
            password=body.password,
            actor=who.actor,
        )
        out = UserOut.model_validate(user)
        if worker is not None:
            out.worker_id, out.worker_name = worker.id, worker.name
        return out


@router.get("/keys", response_model=list[ApiKeyOut])
def list_keys(session: Session = Depends(read_session), _: Principal = admin_only) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


@router.post("/keys", response_model=ApiKeyCreated, status_code=201)
def create_key(
    body: ApiKeyIn, db: Database = Depends(get_db), who: Principal = admin_only
) -> ApiKeyCreated:
    with db.transaction() as session:
        user = session.get(User, body.user_id)
        if user is None:
            raise NotFound(f"user {body.user_id} does not exist", field="user_id")
        row, key = service.create_api_key(session, user=user, name=body.name, actor=who.actor)
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@router.post("/keys/{key_id}/revoke", response_model=ApiKeyOut)
def revoke_key(key_id: Id, db: Database = Depends(get_db), who: Principal = admin_only) -> ApiKey:
    with db.transaction() as session:
        return service.revoke_api_key(session, key_id=key_id, actor=who.actor)
