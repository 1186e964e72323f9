"""API models of the registry."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.db.ids import Id
from broadcaster.plain_text import PlainLine
from broadcaster.registry.importer.proxies import MAX_PROXIES
from broadcaster.registry.models import GroupKind, HazardType, PhoneKind, WorkerRole, ZoneKind

MAX_MEMBERS = 20


class ZoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: ZoneKind
    hazard_type: HazardType | None
    parent_id: int | None
    risk: int
    region_code: str | None


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    phone: str | None = Field(description="E.164; null for a member without a phone")
    phone_kind: PhoneKind | None
    active: bool


class ProxyOut(BaseModel):
    """A proxy contact (代联系人) of a household."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    phone: str
    phone_kind: PhoneKind
    relation: str
    may_confirm: bool


class PersonIn(BaseModel):
    """A member as an edit gives it: a name, a phone, or both (no phone: leave it out)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlainLine | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40, description="mobile or landline")


class ProxyIn(BaseModel):
    """A proxy contact (代联系人): a child in the city, a neighbour, the responsible official."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlainLine = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=1, max_length=40)
    relation: PlainLine = Field(default="", max_length=50)
    may_confirm: bool = Field(
        default=False, description="whether their answer confirms the household (代为确认)"
    )


class HouseholdOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    head_name: str
    address: str
    grid_code: str
    hazard_zones: list[str]
    vulnerability: list[str]
    is_vulnerable: bool
    worker_name: str | None
    lat: float | None
    lon: float | None
    people: list[PersonOut]
    proxies: list[ProxyOut] = Field(default_factory=list)
    no_phone: bool = Field(
        default=False, description="无电话: no active member has a phone (proxies or a visit)"
    )
    notes: str = ""
    version: str = Field(description="Send it back with an edit: refused if it changed since.")


class HouseholdEdit(BaseModel):
    """What an edit changes (absent fields stay as they are)."""

    notes: str | None = Field(default=None, max_length=4000)
    vulnerability: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=20
    )
    people: list[PersonIn] | None = Field(
        default=None,
        max_length=MAX_MEMBERS,
        description="The members, head first (replaces the list; members left out retire).",
    )
    proxies: list[ProxyIn] | None = Field(
        default=None, max_length=MAX_PROXIES, description="The proxies (replaces the list)."
    )
    version: str | None = Field(default=None, max_length=64)


class HouseholdIn(BaseModel):
    """A household to register by hand (the file import registers many)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: PlainLine = Field(min_length=1, max_length=64)
    head_name: PlainLine = Field(min_length=1, max_length=100)
    address: PlainLine = Field(min_length=1, max_length=300)
    grid_code: str = Field(min_length=1, max_length=64)
    hazard_zones: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20
    )
    vulnerability: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=20
    )
    notes: str = Field(default="", max_length=4000)
    people: list[PersonIn] = Field(
        default_factory=list,
        max_length=MAX_MEMBERS,
        description="Head first; none: the head, without a phone (无电话).",
    )
    proxies: list[ProxyIn] = Field(default_factory=list, max_length=MAX_PROXIES)


class HouseholdPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[HouseholdOut]


class WorkerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    phone: str
    role: WorkerRole
    active: bool


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: GroupKind
    zone_id: int | None
    owner_worker_id: int | None
    owner_phone: str | None = None
    member_count: int


class GroupIn(BaseModel):
    """A group to register: WeCom groups need their robot key, WeChat/QQ groups an owner."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: PlainLine = Field(min_length=1, max_length=64)
    name: PlainLine = Field(min_length=1, max_length=200)
    kind: GroupKind
    zone: str = Field(min_length=1, max_length=64, description="zone code (village or grid)")
    owner_worker_id: Id | None = None
    owner_phone: str | None = Field(default=None, max_length=40)
    member_count: int = Field(default=0, ge=0, le=100_000)
    webhook_key: str | None = Field(default=None, max_length=200)


class LoudspeakerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    zone_id: int
    operator_worker_id: int | None
