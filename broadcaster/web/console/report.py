"""The after-action report of an alert or drill: one printable page, and the same as XLSX."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from openpyxl import Workbook
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from broadcaster.alerts.models import Alert
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.reports.export import (
    RecipientFilter,
    export_rows,
    header_row,
    local_time,
    safe_cell,
)
from broadcaster.reports.scorecard import Scorecard, scorecard
from broadcaster.web.console.common import alongside, console_user, db_of, missing, page
from broadcaster.web.console.exports import XLSX
from broadcaster.web.console.figures import channel_rows
from broadcaster.web.console.report_data import Missing, figures, missing_households, why

router = APIRouter()


def report_context(db: Database, session: Session, alert: Alert) -> dict[str, Any]:
    gaps = alongside(db, lambda other: missing_households(other, alert))
    found = figures(session, alert, alongside(db, lambda other: channel_rows(other, alert)))
    targeted = found.targeted
    return {
        "alert": alert,
        "card": found,
        "chart": found.timing.chart,
        "channels": found.channels,
        "answers": found.answers,
        "f": {"targeted": targeted},
        "gaps": gaps(),
        "why": why,
    }


@router.get("/console/alerts/{alert_id}/report", response_class=HTMLResponse)
def report_page(request: Request, alert_id: Id) -> HTMLResponse:
    user = console_user(request)
    db = db_of(request)
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return missing(request, f"alert {alert_id}")
        context = report_context(db, session, alert)
    return page(request, "console_report.html", user, "alerts", **context)


def _summary(alert: Alert, card: Scorecard, gaps: Missing) -> list[list[Any]]:
    s = card.seconds_to_final
    return [
        ["预警 alert", f"#{alert.id} {alert.headline}"],
        ["标识 identifier", alert.identifier],
        ["演练 drill", "是 yes" if card.drill else "否 no"],
        ["级别 level", alert.level.value],
        ["状态 state", alert.state.value],
        ["发布 issued", local_time(alert.issued_at)],
        ["全部完成 complete", local_time(alert.completed_at)],
        ["目标户 households targeted", card.households_targeted],
        ["已完成户 households final", card.households_final],
        ["已确认 confirmed", card.households_confirmed],
        ["求助 needs help", card.households_needs_help],
        ["已上门 visited", card.households_visited],
        ["未完成 not final", gaps.total],
        ["从未送达 never reached", card.households_never_reached],
        ["无联系方式 without any contact", gaps.without_contact],
        ["首条发送用时(秒) first send (s)", card.seconds_to_first_send],
        ["50% 用时(秒) time to 50 % (s)", s.get("p50")],
        ["90% 用时(秒) time to 90 % (s)", s.get("p90")],
        ["100% 用时(秒) time to 100 % (s)", s.get("p100")],
    ]


def write_report(path: Path, session: Session, alert: Alert) -> None:
    """Summary, channels, visits and every household not final, one sheet each."""
    card = scorecard(session, alert)
    gaps = missing_households(session, alert)
    book = Workbook(write_only=True)
    summary = book.create_sheet("概要 summary")
    for row in _summary(alert, card, gaps):
        summary.append(row)
    channels = book.create_sheet("渠道 channels")
    channels.append(["渠道 channel", "发送 deliveries", "送达 delivered", "失败 failed",
                     "撤回 withdrawn", "送达率 delivery rate", "送达户 households delivered",
                     "回复户 households answered", "确认率 confirmation rate"])  # fmt: skip
    for name, c in card.channels.items():
        figures = [c.deliveries, c.delivered, c.failed, c.withdrawn, c.delivery_rate]
        households = [c.households_delivered, c.households_answered, c.confirmation_rate]
        channels.append([name, *figures, *households])
    visits = book.create_sheet("上门 visits")
    visits.append(["状态 state", "数量 count"])
    for state, n in card.visits.items():
        visits.append([state, n])
    visits.append(["需上门户 households needing a visit", card.visits_needed])
    for via, n in card.confirmations_by_via.items():
        visits.append([f"确认方式 via {via}", n])
    rest = book.create_sheet("未完成住户 not final")
    rest.append(header_row())
    for row in export_rows(session, RecipientFilter("unconfirmed"), alert.id, full_phones=False):
        rest.append([safe_cell(v) for v in row])
    book.save(path)


@router.get("/console/alerts/{alert_id}/report.xlsx")
def report_xlsx(request: Request, alert_id: Id) -> Response:
    console_user(request)
    folder = Path(tempfile.mkdtemp(prefix="report-"))
    path = folder / f"alert-{alert_id}-report.xlsx"
    with db_of(request).read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            shutil.rmtree(folder, ignore_errors=True)
            return missing(request, f"alert {alert_id}")
        write_report(path, session, alert)
    return FileResponse(
        path,
        media_type=XLSX,
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
