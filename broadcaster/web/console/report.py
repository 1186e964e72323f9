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
from broadcaster.reports import labels
from broadcaster.reports.export import (
    RecipientFilter,
    Words,
    export_rows,
    header_row,
    local_time,
    safe_cell,
)
from broadcaster.reports.scorecard import Scorecard, scorecard
from broadcaster.web.console.common import (
    alert_state_name,
    alongside,
    console_user,
    db_of,
    missing,
    page,
)
from broadcaster.web.console.exports import XLSX, export_words
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


def _summary(alert: Alert, card: Scorecard, gaps: Missing, words: Words) -> list[list[Any]]:
    s, say = card.seconds_to_final, words.translate
    return [
        [say("预警"), f"#{alert.id} {alert.headline}"],
        [say("标识"), alert.identifier],
        [say("演练"), say(labels.YES if card.drill else labels.NO)],
        [say("级别"), labels.name(labels.LEVELS, alert.level, say)],
        [say("状态"), say(alert_state_name(alert))],
        [say("发布"), local_time(alert.issued_at, words.zone)],
        [say("全部完成"), local_time(alert.completed_at, words.zone)],
        [say("目标户"), card.households_targeted],
        [say("已完成户"), card.households_final],
        [say("已确认"), card.households_confirmed],
        [say("求助"), card.households_needs_help],
        [say("已上门"), card.households_visited],
        [say("未完成户"), gaps.total],
        [say("从未送达"), card.households_never_reached],
        [say("无联系方式"), gaps.without_contact],
        [say("首条发送用时（秒）"), card.seconds_to_first_send],
        [say("50% 用时（秒）"), s.get("p50")],
        [say("90% 用时（秒）"), s.get("p90")],
        [say("100% 用时（秒）"), s.get("p100")],
    ]


CHANNEL_COLUMNS = ("渠道", "发送", "送达", "失败", "撤回", "送达率", "送达户", "回复户", "确认率")


def write_report(path: Path, session: Session, alert: Alert, words: Words | None = None) -> None:
    """Summary, channels, visits and every household not final, one sheet each (in the
    console's language, times in the district's zone)."""
    words = words or Words()
    say = words.translate
    card = scorecard(session, alert)
    gaps = missing_households(session, alert)
    book = Workbook(write_only=True)
    summary = book.create_sheet(say("概要"))
    for row in _summary(alert, card, gaps, words):
        summary.append(row)
    channels = book.create_sheet(say("渠道"))
    channels.append([say(c) for c in CHANNEL_COLUMNS])
    for name, c in card.channels.items():
        figures = [c.deliveries, c.delivered, c.failed, c.withdrawn, c.delivery_rate]
        households = [c.households_delivered, c.households_answered, c.confirmation_rate]
        channels.append([labels.name(labels.channel_names(), name, say), *figures, *households])
    visits = book.create_sheet(say("上门"))
    visits.append([say("状态"), say("数量")])
    for state, n in card.visits.items():
        visits.append([labels.name(labels.VISITS, state, say), n])
    visits.append([say("需上门户"), card.visits_needed])
    for via, n in card.confirmations_by_via.items():
        visits.append([f"{say('确认方式')}：{labels.name(labels.VIA, via, say)}", n])
    rest = book.create_sheet(say("未完成住户"))
    rest.append(header_row(say))
    unconfirmed = RecipientFilter("unconfirmed")
    for row in export_rows(session, unconfirmed, alert.id, full_phones=False, words=words):
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
        write_report(path, session, alert, export_words(request))
    return FileResponse(
        path,
        media_type=XLSX,
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
