"""Registry API: zones, households, workers, groups, loudspeakers and the household import."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from broadcaster.api.deps import allow, get_db, get_settings_dep, read_session
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.db.ids import Offset
from broadcaster.registry import households, service
from broadcaster.registry.group_import import import_groups
from broadcaster.registry.groups import create_group
from broadcaster.registry.importer import ImportReport, import_households, write_template
from broadcaster.registry.importer.reading import read_upload
from broadcaster.registry.models import Group, Loudspeaker, Worker, Zone
from broadcaster.registry.schemas import (
    GroupIn,
    GroupOut,
    HouseholdEdit,
    HouseholdIn,
    HouseholdOut,
    HouseholdPage,
    LoudspeakerOut,
    WorkerOut,
    ZoneOut,
)
from broadcaster.settings import Settings

router = APIRouter(prefix="/registry", tags=["registry"])
readers = allow(Role.admin, Role.officer)
zone_readers = allow(Role.admin, Role.officer, Role.feed, Role.operator, Role.field)


@router.get("/zones", response_model=list[ZoneOut])
def list_zones(session: Session = Depends(read_session), _: Principal = zone_readers) -> list[Zone]:
    return list(session.scalars(select(Zone).order_by(Zone.path, Zone.code)))


@router.get("/households", response_model=HouseholdPage)
def list_households(
    zone: str | None = None,
    vulnerable: bool | None = None,
    q: str | None = Query(default=None, max_length=100),
    offset: Offset = 0,
    limit: int = Query(default=50, ge=1, le=500),
    session: Session = Depends(read_session),
    _: Principal = readers,
) -> HouseholdPage:
    total, rows = service.search_households(
        session, zone=zone, vulnerable=vulnerable, query=q, offset=offset, limit=limit
    )
    items = [service.household_out(h) for h in rows]
    return HouseholdPage(total=total, offset=offset, limit=limit, items=items)


@router.get("/households/{code}", response_model=HouseholdOut)
def get_household(
    code: str, session: Session = Depends(read_session), _: Principal = readers
) -> HouseholdOut:
    return service.household_out(service.household_by_code(session, code))


@router.post("/households", response_model=HouseholdOut, status_code=201)
def create_household(
    body: HouseholdIn, db: Database = Depends(get_db), who: Principal = readers
) -> HouseholdOut:
    """Register one household by hand (audited): members may have no phone (none listed: the
    head, without one — 无电话), proxies (代联系人) with whether they may confirm; a bad
    value is a 422 naming it, a code in use a 409."""
    with db.transaction() as session:
        households.create_household(session, body=body, actor=who.actor)
    with db.read() as session:
        return service.household_out(service.household_by_code(session, body.code))


@router.patch("/households/{code}", response_model=HouseholdOut)
def edit_household(
    code: str, body: HouseholdEdit, db: Database = Depends(get_db), who: Principal = readers
) -> HouseholdOut:
    """Change a household's notes, vulnerability flags, members (a member may have no phone)
    or proxy contacts (代联系人; audited); a bad value is a 422 naming it (`people[1].phone`).
    Send the `version` you read to be refused (409) if someone changed it meanwhile."""
    with db.transaction() as session:
        households.edit_household(
            session,
            code=code,
            actor=who.actor,
            notes=body.notes,
            vulnerability=body.vulnerability,
            people=body.people,
            proxies=body.proxies,
            version=body.version,
        )
    with db.read() as session:
        return service.household_out(service.household_by_code(session, code))


@router.get("/workers", response_model=list[WorkerOut])
def list_workers(session: Session = Depends(read_session), _: Principal = readers) -> list[Worker]:
    return list(session.scalars(select(Worker).order_by(Worker.id)))


@router.get("/groups", response_model=list[GroupOut])
def list_groups(session: Session = Depends(read_session), _: Principal = readers) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.code)))


@router.post("/groups", response_model=GroupOut, status_code=201)
def add_group(
    body: GroupIn, db: Database = Depends(get_db), who: Principal = allow(Role.admin)
) -> Group:
    """Register a group: WeCom groups with their robot key, WeChat/QQ groups with an owner
    (a worker or a mobile number) who relays alerts into them."""
    with db.transaction() as session:
        group = create_group(session, body=body, actor=who.actor)
        session.expunge(group)
    return group


@router.get("/loudspeakers", response_model=list[LoudspeakerOut])
def list_loudspeakers(
    session: Session = Depends(read_session), _: Principal = readers
) -> list[Loudspeaker]:
    return list(session.scalars(select(Loudspeaker).order_by(Loudspeaker.code)))


@router.post("/import", response_model=ImportReport)
def import_file(
    file: UploadFile = File(description="户籍表 .xlsx 或 .csv / household file"),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = allow(Role.admin),
) -> ImportReport:
    """Import households; good rows are applied, bad rows reported (the first
    `imports.max_problems` problems listed, all counted in `problems_total`)."""
    data = read_upload(file.file, settings.imports)
    with db.transaction() as session:
        return import_households(
            session,
            data=data,
            filename=file.filename or "upload",
            actor=who.actor,
            limits=settings.imports,
        )


@router.post("/groups/import", response_model=ImportReport)
def import_groups_file(
    file: UploadFile = File(description="群登记表 .xlsx 或 .csv / group file"),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    who: Principal = allow(Role.admin),
) -> ImportReport:
    """Import WeChat, QQ and WeCom groups (群编号, 群名称, 类型, 所属区域编号, 群主手机, 群成员数,
    机器人密钥); good rows are applied, every bad row is reported."""
    data = read_upload(file.file, settings.imports)
    with db.transaction() as session:
        return import_groups(
            session,
            data=data,
            filename=file.filename or "upload",
            actor=who.actor,
            limits=settings.imports,
        )


@router.get("/import/template.xlsx")
def import_template(_: Principal = allow(Role.admin, Role.officer)) -> FileResponse:
    """The household import template with the bilingual header row."""
    folder = Path(tempfile.mkdtemp(prefix="template-"))
    path = folder / "household_template.xlsx"
    write_template(path)
    cleanup = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    return FileResponse(path, filename="household_template.xlsx", background=cleanup)
