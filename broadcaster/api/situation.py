"""Situation reports (灾情报送) of an alert or a time window: rows per zone, or the XLSX forms."""

from __future__ import annotations

import datetime as dt
import io
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert
from broadcaster.api.deps import allow, read_session
from broadcaster.auth.models import Role
from broadcaster.db.base import utcnow
from broadcaster.db.ids import Id
from broadcaster.errors import NotFound
from broadcaster.plain_text import PlainLine
from broadcaster.reports.situation import SituationReport, ZoneRow, situation_report
from broadcaster.reports.situation_window import window_report
from broadcaster.reports.situation_xlsx import write_situation

router = APIRouter(tags=["situation reports"])
duty = allow(Role.officer, Role.admin)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNIT = Query(default=None, max_length=100, description="填报单位 (default: the district's name)")
Format = Literal["json", "xlsx"]


class FiguresOut(BaseModel):
    """Households by their state under the alert(s), as `GET /alerts/{id}` counts them."""

    households_targeted: int
    households_pending: int
    households_reached: int = Field(description="Reached, no answer yet (as the alert counts).")
    households_confirmed: int
    households_needs_help: int
    households_unreachable: int
    households_visited: int
    households_final: int
    households_not_final: int
    visits_total: int
    visits_open: int
    visits_done: int = Field(description="Visits ended at the door: done or unable.")
    households_evacuated: int
    people_evacuated: int = Field(description="Each household once: its latest count.")
    people_to_shelters: int
    people_to_relatives: int
    people_elsewhere: int
    evacuated_uncounted: int = Field(description="Households evacuated with no people count.")
    vulnerable_targeted: int
    vulnerable_final: int
    vulnerable_needs_help: int
    vulnerable_not_final: int
    help_open: int
    help_total: int
    loudspeakers_targeted: int = Field(description="Counted in the zone each one covers.")
    loudspeakers_played: int


class ZoneRowOut(FiguresOut):
    zone_id: int
    code: str
    name: str
    kind: str = Field(description="district, township, village or grid")
    parent_id: int | None


class AlertBrief(BaseModel):
    id: int
    headline: str
    level: str
    state: str
    exercise: bool
    issued_at: dt.datetime | None


class ShelterUseOut(BaseModel):
    id: int
    code: str
    name: str
    zone_code: str
    zone_name: str
    capacity: int
    active: bool
    households: int = Field(description="Households these alerts moved there.")
    people: int = Field(description="People these alerts moved there.")
    occupancy: int = Field(description="People there now, under every alert in force.")
    free: int
    over_capacity: bool


class VulnerableOut(BaseModel):
    household_code: str
    head_name: str
    address: str
    grid: str
    vulnerability: list[str]
    state: str
    alert_id: int


class SituationOut(BaseModel):
    alerts: list[AlertBrief]
    drill: bool = Field(description="Includes a drill (演练): marked so on every form.")
    since: dt.datetime | None
    until: dt.datetime | None
    generated_at: dt.datetime
    unit: str = Field(description="The reporting unit (填报单位).")
    rows: list[ZoneRowOut] = Field(description="Townships → villages → grids, tree order.")
    total: FiguresOut
    shelters: list[ShelterUseOut]
    vulnerable_not_final: list[VulnerableOut] = Field(description="The first 200, most urgent.")


def _brief(a: Alert) -> AlertBrief:
    return AlertBrief(
        id=a.id,
        headline=a.headline,
        level=a.level.value,
        state=a.state.value,
        exercise=a.is_drill,
        issued_at=a.issued_at,
    )


def _zone_row(r: ZoneRow) -> ZoneRowOut:
    return ZoneRowOut(
        zone_id=r.zone_id,
        code=r.code,
        name=r.name,
        kind=r.kind.value,
        parent_id=r.parent_id,
        **r.figures.as_dict(),
    )


def situation_out(report: SituationReport, unit: str) -> SituationOut:
    return SituationOut(
        alerts=[_brief(a) for a in report.alerts],
        drill=report.drill,
        since=report.since,
        until=report.until,
        generated_at=report.generated_at,
        unit=unit,
        rows=[_zone_row(r) for r in report.rows],
        total=FiguresOut(**report.total.as_dict()),
        shelters=[
            ShelterUseOut(**s.__dict__, free=s.free, over_capacity=s.over_capacity)
            for s in report.shelters
        ],
        vulnerable_not_final=[VulnerableOut(**v.__dict__) for v in report.vulnerable],
    )


def _answer(report: SituationReport, fmt: Format, unit: str | None, name: str) -> Response:
    chosen = report.unit if unit is None else unit
    if fmt == "json":
        body = situation_out(report, chosen).model_dump_json()
        return Response(body, media_type="application/json")
    out = io.BytesIO()
    write_situation(out, report, unit=chosen)
    disposition = f'attachment; filename="situation-{name}.xlsx"'
    return Response(out.getvalue(), media_type=XLSX, headers={"Content-Disposition": disposition})


@router.get("/alerts/{alert_id}/situation-report", response_model=SituationOut)
def alert_situation(
    alert_id: Id,
    format: Format = "json",
    unit: PlainLine | None = UNIT,
    session: Session = Depends(read_session),
    _: object = duty,
) -> Response:
    """The alert's figures per township → village → grid (the rows under a zone add up to
    it; the total equals the alert's counts), people evacuated and to which shelters,
    vulnerable households not final. `format=xlsx`: the 灾情报送 and 转移人员统计 forms."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"预警不存在 / no alert {alert_id}")
    report = situation_report(session, [alert], now=utcnow())
    return _answer(report, format, unit, f"alert-{alert_id}")


@router.get("/situation-report", response_model=SituationOut)
def window_situation(
    since: dt.datetime = Query(description="From (ISO time; without a zone: Beijing time)"),
    until: dt.datetime | None = Query(default=None, description="To (default: now)"),
    drills: bool = Query(default=False, description="Include drills (marked 演练)"),
    format: Format = "json",
    unit: PlainLine | None = UNIT,
    session: Session = Depends(read_session),
    _: object = duty,
) -> Response:
    """Every alert issued in [since, until) summed per zone: a household counts once per
    alert, its people once (the latest count). Drills only with `drills=true`."""
    report = window_report(session, since, until, drills)
    return _answer(report, format, unit, "window")
