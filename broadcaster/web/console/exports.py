"""Recipient exports of one alert: CSV (streamed) and XLSX, phones masked unless asked for."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from broadcaster.alerts.models import Alert
from broadcaster.db.database import Database
from broadcaster.db.ids import Id
from broadcaster.errors import ValidationFailed
from broadcaster.reports.export import Words, csv_chunks, export_rows, write_xlsx
from broadcaster.web.console.alert_page import Filters, audit_phones
from broadcaster.web.console.common import console_user, db_of, message, missing, settings_of
from broadcaster.web.i18n import translations
from broadcaster.web.templating import request_language

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_words(request: Request) -> Words:
    """Exports read like the console: its language, the district's time zone."""
    language = request_language(request)
    return Words(translations(language).gettext, settings_of(request).zone)


def _rows(db: Database, alert_id: int, filters: Filters, words: Words) -> Iterator[list[str]]:
    """The export's rows, read in one reading session that lives as long as the download."""
    with db.read() as session:
        flt, _error = filters.resolve(session)
        yield from export_rows(
            session, flt, alert_id, full_phones=bool(filters.phones), words=words
        )


def _checked(request: Request, alert_id: int, fmt: str) -> tuple[Filters, str, Response | None]:
    """The filters, the file name's start ("drill-alert-7" for a drill), or a refusal."""
    user = console_user(request)
    filters = Filters.of(request)
    with db_of(request).read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return filters, "", missing(request, f"alert {alert_id}")
        stem = f"{'drill-' if alert.is_drill else ''}alert-{alert_id}"
        _flt, error = filters.resolve(session)
    if error:
        return filters, stem, message(request, ValidationFailed(error, field="zone"))
    audit_phones(
        request,
        user,
        alert_id,
        fmt,
        phones="full" if filters.phones else "masked",
        filter=filters.query(phones=""),
    )
    return filters, stem, None


@router.get("/console/alerts/{alert_id}/recipients.csv")
def export_csv(request: Request, alert_id: Id) -> Response:
    filters, stem, refused = _checked(request, alert_id, "csv")
    if refused is not None:
        return refused
    name = f"{stem}-recipients{'-full' if filters.phones else ''}.csv"
    words = export_words(request)
    return StreamingResponse(
        csv_chunks(_rows(db_of(request), alert_id, filters, words), words.translate),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/console/alerts/{alert_id}/recipients.xlsx")
def export_xlsx(request: Request, alert_id: Id) -> Response:
    filters, stem, refused = _checked(request, alert_id, "xlsx")
    if refused is not None:
        return refused
    folder = Path(tempfile.mkdtemp(prefix="export-"))
    name = f"{stem}-recipients{'-full' if filters.phones else ''}.xlsx"
    path = folder / name
    words = export_words(request)
    write_xlsx(
        path,
        _rows(db_of(request), alert_id, filters, words),
        title=stem.replace("drill-", words.translate("演练") + " "),
        translate=words.translate,
    )
    return FileResponse(
        path,
        media_type=XLSX,
        filename=name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
