"""Shelters (安置点) API: the list with occupancy now, register or update one, import a sheet."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from broadcaster.api.deps import allow, get_db, get_settings_dep, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.registry.importer import ImportReport
from broadcaster.registry.importer.reading import read_upload
from broadcaster.registry.shelters import ShelterIn, import_shelters, save_shelter
from broadcaster.reports.evacuations import ShelterRow, occupancy, shelter_rows
from broadcaster.settings import Settings

router = APIRouter(prefix="/registry/shelters", tags=["registry"])
keepers = allow(Role.admin, Role.officer)


class ShelterOut(BaseModel):
    id: int
    code: str
    name: str
    zone_code: str
    zone_name: str
    capacity: int
    active: bool
    occupancy: int = Field(description="People there now: field findings under alerts in force.")
    free: int
    over_capacity: bool


def _out(row: ShelterRow) -> ShelterOut:
    return ShelterOut(
        id=row.id,
        code=row.code,
        name=row.name,
        zone_code=row.zone_code,
        zone_name=row.zone_name,
        capacity=row.capacity,
        active=row.active,
        occupancy=row.occupancy,
        free=row.free,
        over_capacity=row.over_capacity,
    )


def listing(session: Session, active_only: bool) -> list[ShelterOut]:
    rows = shelter_rows(session, occupancy(session), every=True)
    return [_out(r) for r in rows if r.active or not active_only]


@router.get("", response_model=list[ShelterOut])
def list_shelters(
    active: bool = Query(default=False, description="only shelters open for evacuees"),
    session: Session = Depends(read_session),
    _: Principal = allow(Role.admin, Role.officer, Role.field),
) -> list[ShelterOut]:
    """Shelters by code with their occupancy now (field workers pick one for an evacuation)."""
    return listing(session, active)


@router.post("", response_model=ShelterOut, status_code=201)
def add_shelter(
    body: ShelterIn,
    response: Response,
    db: Database = Depends(get_db),
    who: Principal = keepers,
) -> ShelterOut:
    """Register a shelter (201), or update the one with this code (200); audited."""
    with db.transaction() as session:
        shelter, done = save_shelter(session, body=body, actor=who.actor)
        code = shelter.code
    if done != "created":
        response.status_code = 200
    with db.read() as session:
        return next(s for s in listing(session, False) if s.code == code)


@router.post("/import", response_model=ImportReport)
def import_file(
    file: UploadFile = File(description="安置点表 .xlsx 或 .csv / shelter list"),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = keepers,
) -> ImportReport:
    """Import shelters (安置点编号, 安置点名称, 所属区域编号, 可容纳人数, 地址, 启用): good rows
    are applied (idempotent on the code), every bad row reported with its row and reason."""
    data = read_upload(file.file, settings.imports)
    with db.transaction() as session:
        return import_shelters(
            session,
            data=data,
            filename=file.filename or "upload",
            actor=who.actor,
            limits=settings.imports,
        )
