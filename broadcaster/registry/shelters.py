"""Shelters (安置点): registered one by one or from a sheet; every problem names its field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor, record
from broadcaster.errors import NotFound, ValidationFailed
from broadcaster.plain_text import PlainLine
from broadcaster.registry.importer.schemas import ImportReport
from broadcaster.registry.models import Shelter, ZoneKind
from broadcaster.registry.service import zone_by_code
from broadcaster.registry.sheet_rows import Cells, Columns, Done, import_rows
from broadcaster.settings import ImportSettings

MAX_CAPACITY = 1_000_000
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("安置点编号", "code", "shelter_code", "编号"),
    "name": ("安置点名称", "name", "shelter_name", "名称", "安置点"),
    "zone": ("所属区域编号", "zone", "区域编号", "zone_code", "村/网格编号"),
    "capacity": ("可容纳人数", "capacity", "容纳人数", "容量"),
    "address": ("地址", "address"),
    "active": ("启用", "active", "是否启用"),
}
REQUIRED = ("code", "name", "zone", "capacity")
NO = frozenset({"否", "no", "false", "0", "停用", "关闭"})


class ShelterIn(BaseModel):
    """A shelter to register (or to bring up to date, by its code)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: PlainLine = Field(min_length=1, max_length=64)
    name: PlainLine = Field(min_length=1, max_length=200)
    zone: str = Field(min_length=1, max_length=64, description="zone code (township, village…)")
    capacity: int = Field(ge=0, le=MAX_CAPACITY, description="people it can take")
    address: PlainLine = Field(default="", max_length=300)
    active: bool = Field(default=True, description="false: closed, not offered to field workers")


def _values(session: Session, body: ShelterIn) -> dict[str, object]:
    zone = zone_by_code(session, body.zone)
    if zone.kind is ZoneKind.hazard:
        raise ValidationFailed(
            "安置点须属于行政区域 / a shelter belongs to an administrative zone", field="zone"
        )
    return {
        "name": body.name,
        "zone_id": zone.id,
        "capacity": body.capacity,
        "address": body.address,
        "active": body.active,
    }


def save_shelter(session: Session, *, body: ShelterIn, actor: Actor) -> tuple[Shelter, Done]:
    """Create the shelter, or bring the one with its code up to date; audited."""
    values = _values(session, body)
    shelter = session.scalar(select(Shelter).where(Shelter.code == body.code))
    if shelter is None:
        shelter = Shelter(code=body.code, **values)
        session.add(shelter)
        session.flush()
        done: Done = "created"
        changed = sorted(values)
    else:
        changed = sorted(k for k, v in values.items() if getattr(shelter, k) != v)
        if not changed:
            return shelter, "unchanged"
        for key in changed:
            setattr(shelter, key, values[key])
        session.flush()
        done = "updated"
    record(
        session,
        actor=actor,
        action=f"shelter.{'create' if done == 'created' else 'update'}",
        object_type="shelter",
        object_id=shelter.id,
        code=shelter.code,
        fields=changed,
    )
    return shelter, done


def shelter_by_code(session: Session, code: str) -> Shelter:
    shelter = session.scalar(select(Shelter).where(Shelter.code == code))
    if shelter is None:
        raise NotFound(f"安置点不存在 / no shelter {code}")
    return shelter


def _row(cells: Cells, columns: Columns) -> ShelterIn:
    active = columns.cell(cells, "active").lower()
    return ShelterIn(
        code=columns.cell(cells, "code"),
        name=columns.cell(cells, "name", folded=False),
        zone=columns.cell(cells, "zone"),
        capacity=columns.number(cells, "capacity"),
        address=columns.cell(cells, "address", folded=False),
        active=active not in NO,
    )


def import_shelters(
    session: Session,
    *,
    data: bytes,
    filename: str,
    actor: Actor,
    limits: ImportSettings | None = None,
) -> ImportReport:
    """Import shelters (安置点编号, 安置点名称, 所属区域编号, 可容纳人数, 地址, 启用): idempotent on
    the code; every bad row is reported with its row number and reason. Do not commit."""
    columns = Columns(COLUMNS, REQUIRED)

    def apply(cells: Cells) -> Done:
        return save_shelter(session, body=_row(cells, columns), actor=actor)[1]

    return import_rows(
        session, data=data, filename=filename, columns=columns, apply=apply, limits=limits
    )
