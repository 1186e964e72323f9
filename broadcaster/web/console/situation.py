"""The situation report (灾情报送) as a printable page: one alert, or the alerts of a window."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from broadcaster.alerts.models import Alert
from broadcaster.db.base import utcnow
from broadcaster.db.ids import Id
from broadcaster.errors import ValidationFailed
from broadcaster.plain_text import text_problem
from broadcaster.registry.models import ZoneKind
from broadcaster.reports.export import CST, given_time
from broadcaster.reports.situation import SituationReport, situation_report
from broadcaster.reports.situation_window import window_report
from broadcaster.web.console.common import console_user, db_of, message, missing, page

router = APIRouter()
UNIT = Query(default=None, max_length=100)
GRIDS_SHOWN = 300  # more grids than this: the page stops at villages unless asked (XLSX has all)


def _unit(report: SituationReport, unit: str | None) -> str:
    """The reporting unit typed on the page (checked like any text), else the district."""
    if unit is None or not unit.strip():
        return report.unit
    problem = text_problem(unit, multiline=False)
    if problem is not None:
        raise ValidationFailed(f"填报单位：{problem}", field="unit")
    return unit.strip()


def _show(
    request: Request,
    report: SituationReport,
    unit: str | None,
    xlsx: str,
    window: dict[str, object] | None = None,
) -> HTMLResponse:
    user = console_user(request)
    try:
        chosen = _unit(report, unit)
    except ValidationFailed as exc:
        return message(request, exc)
    link = xlsx + ("&" if "?" in xlsx else "?") + urlencode({"format": "xlsx", "unit": chosen})
    vulnerable_total = report.total.vulnerable_not_final
    section = "situation" if window else "alerts"
    grids = sum(1 for r in report.rows if r.kind is ZoneKind.grid)
    asked = request.query_params.get("grids")
    show_grids = grids <= GRIDS_SHOWN if asked not in ("0", "1") else asked == "1"
    toggle = urlencode({**request.query_params, "grids": "0" if show_grids else "1"})
    return page(request, "console_situation.html", user, section, report=report, unit=chosen,
                xlsx=link, vulnerable_total=vulnerable_total, window=window, grids=grids,
                show_grids=show_grids, toggle=f"?{toggle}")  # fmt: skip


@router.get("/console/alerts/{alert_id}/situation", response_class=HTMLResponse)
def alert_situation(request: Request, alert_id: Id, unit: str | None = UNIT) -> HTMLResponse:
    """One alert's report, ready to print (A4 landscape) and sign."""
    console_user(request)
    with db_of(request).read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return missing(request, f"alert {alert_id}")
        report = situation_report(session, [alert], now=utcnow())
    return _show(request, report, unit, f"/api/v1/alerts/{alert_id}/situation-report")


def _local(value: str | None, field: str, default: dt.datetime) -> dt.datetime:
    """A time from a datetime-local field (Beijing time), or the default."""
    if not value:
        return default
    try:
        given = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: 时间格式不对 / not a time", field=field) from exc
    return given_time(given, field)


@router.get("/console/situation", response_class=HTMLResponse)
def window_situation(
    request: Request,
    since: str | None = Query(default=None, max_length=40),
    until: str | None = Query(default=None, max_length=40),
    drills: bool = False,
    unit: str | None = UNIT,
) -> HTMLResponse:
    """Every alert of a time window (default: today, Beijing time), ready to print."""
    console_user(request)
    today = utcnow().astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        start = _local(since, "since", today)
        end = _local(until, "until", utcnow())
        with db_of(request).read() as session:
            report = window_report(session, start, end, drills)
    except ValidationFailed as exc:
        return message(request, exc)
    query = urlencode({"since": start.isoformat(), "until": end.isoformat(), "drills": drills})
    shown = {
        "since": start.astimezone(CST).strftime("%Y-%m-%dT%H:%M"),
        "until": end.astimezone(CST).strftime("%Y-%m-%dT%H:%M"),
        "drills": drills,
    }
    return _show(request, report, unit, f"/api/v1/situation-report?{query}", shown)
