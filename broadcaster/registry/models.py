"""Registry tables: zones, households, people, groups, loudspeakers and workers."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broadcaster.db.base import Base, TimestampMixin, str_enum


class ZoneKind(enum.StrEnum):
    """Administrative levels, and the hazard zones that overlap them."""

    district = "district"
    township = "township"
    village = "village"
    grid = "grid"
    hazard = "hazard"


class HazardType(enum.StrEnum):
    """Kinds of hazard zone named in the source notice."""

    flash_flood = "flash_flood"
    riverside_lowland = "riverside_lowland"
    waterlogging = "waterlogging"
    geohazard = "geohazard"
    drought = "drought"


class PhoneKind(enum.StrEnum):
    """Mobile numbers take SMS and calls; landlines take calls only."""

    mobile = "mobile"
    landline = "landline"


class GroupKind(enum.StrEnum):
    """WeCom groups have a robot API; WeChat and QQ groups need a person to relay."""

    wecom = "wecom"
    wechat = "wechat"
    qq = "qq"


class WorkerRole(enum.StrEnum):
    """What a worker does in the field."""

    field = "field"
    lead = "lead"
    operator = "operator"
    officer = "officer"


household_zones = Table(
    "household_zones",
    Base.metadata,
    Column("household_id", ForeignKey("households.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_household_zones_zone_id", "zone_id"),
)

worker_zones = Table(
    "worker_zones",
    Base.metadata,
    Column("worker_id", ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True),
)


class Zone(TimestampMixin, Base):
    """An administrative zone (a tree by parent) or a hazard zone."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ZoneKind] = mapped_column(str_enum(ZoneKind, "zone_kind"))
    hazard_type: Mapped[HazardType | None] = mapped_column(str_enum(HazardType, "hazard_type"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"), index=True)
    # Materialised path of ids ("/1/4/17/"): descendants are a prefix match.
    path: Mapped[str] = mapped_column(String(400), index=True, default="")
    risk: Mapped[int] = mapped_column(default=0)
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    parent: Mapped[Zone | None] = relationship(remote_side="Zone.id")


class Worker(TimestampMixin, Base):
    """A field worker, zone lead, loudspeaker operator or duty officer."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    role: Mapped[WorkerRole] = mapped_column(str_enum(WorkerRole, "worker_role"))
    # The login of this worker (field, lead or operator pages); one login, one worker.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    zones: Mapped[list[Zone]] = relationship(secondary=worker_zones)


class Group(TimestampMixin, Base):
    """A WeCom, WeChat or QQ group that residents of a zone read."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[GroupKind] = mapped_column(str_enum(GroupKind, "group_kind"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"), index=True)
    owner_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    # WeChat/QQ groups without a registered worker as owner: the owner's mobile (E.164).
    owner_phone: Mapped[str | None] = mapped_column(String(20))
    webhook_key: Mapped[str | None] = mapped_column(String(200))
    member_count: Mapped[int] = mapped_column(default=0)


class Household(TimestampMixin, Base):
    """One household of the registry: the unit every alert must reach."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    head_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300))
    grid_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    vulnerability: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_vulnerable: Mapped[bool] = mapped_column(default=False, index=True)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    notes: Mapped[str] = mapped_column(Text, default="")

    grid: Mapped[Zone] = relationship()
    worker: Mapped[Worker | None] = relationship()
    hazard_zones: Mapped[list[Zone]] = relationship(secondary=household_zones)
    people: Mapped[list[Person]] = relationship(
        back_populates="household", order_by="Person.position"
    )
    proxies: Mapped[list[Proxy]] = relationship(
        back_populates="household", order_by="Proxy.position", cascade="all, delete-orphan"
    )


class Person(TimestampMixin, Base):
    """A member of a household and the phone number that reaches them (None: no phone)."""

    __tablename__ = "people"
    __table_args__ = (Index("ix_people_household_phone", "household_id", "phone", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    phone_kind: Mapped[PhoneKind | None] = mapped_column(str_enum(PhoneKind, "phone_kind"))
    language: Mapped[str] = mapped_column(String(16), default="zh-CN")
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    household: Mapped[Household] = relationship(back_populates="people")


class Proxy(TimestampMixin, Base):
    """A proxy contact of a household (代联系人): a child in the city, a neighbour, the
    responsible official — someone who actually reaches its people; `may_confirm` says whether
    their answer confirms the household."""

    __tablename__ = "household_proxies"
    __table_args__ = (Index("ix_household_proxies_phone", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    phone_kind: Mapped[PhoneKind] = mapped_column(str_enum(PhoneKind, "phone_kind"))
    relation: Mapped[str] = mapped_column(String(50), default="")
    may_confirm: Mapped[bool] = mapped_column(default=False)

    household: Mapped[Household] = relationship(back_populates="proxies")


class Loudspeaker(TimestampMixin, Base):
    """A village loudspeaker (农村大喇叭) covering a zone, played by an operator."""

    __tablename__ = "loudspeakers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    operator_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    endpoint_url: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None]
    lon: Mapped[float | None]


class Shelter(TimestampMixin, Base):
    """A place evacuated people are moved to (安置点): its zone and how many it takes."""

    __tablename__ = "shelters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), index=True)
    capacity: Mapped[int] = mapped_column(default=0)
    address: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # A closed shelter takes no new evacuees on the field page; findings naming it still count.
    active: Mapped[bool] = mapped_column(default=True)
