"""API models for users and keys."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.auth.models import Role
from broadcaster.db.ids import Id


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Literal["admin", "officer", "feed", "operator", "field", "lead"] = Field(
        description='A user role, or "lead": a field login for a zone lead (needs `worker`).'
    )
    display_name: str = Field(default="", max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    worker: str | None = Field(
        default=None,
        max_length=32,
        description="The worker's phone: the login works that worker's visits or loudspeakers.",
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Role
    display_name: str
    active: bool
    worker_id: int | None = None
    worker_name: str | None = None


class ApiKeyIn(BaseModel):
    user_id: Id
    name: str = Field(default="", max_length=100)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself; shown only in this answer.")
