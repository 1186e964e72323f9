"""Registry writes from the console: a household's notes and vulnerability, and the file import."""

from __future__ import annotations

import unicodedata

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from broadcaster.auth.audit import record
from broadcaster.auth.models import Role
from broadcaster.errors import BroadcasterError, Conflict, ValidationFailed
from broadcaster.registry.importer import import_households
from broadcaster.registry.importer.reading import read_upload
from broadcaster.registry.importer.values import VULNERABILITY_FLAGS
from broadcaster.registry.models import Household
from broadcaster.web.console.common import (
    console_user,
    console_write,
    db_of,
    message,
    missing,
    page,
    principal,
    settings_of,
)

router = APIRouter()
MAX_NOTES = 2000
SHOWN_PROBLEMS = 500


def clean_notes(text: str) -> str:
    """Notes as typed, minus control characters (newlines and tabs stay); length-checked."""
    kept = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    ).strip()
    if len(kept) > MAX_NOTES:
        raise ValidationFailed(f"备注过长（最多 {MAX_NOTES} 字）/ notes too long", field="notes")
    return kept.replace("\r\n", "\n")


def clean_flags(flags: list[str]) -> list[str]:
    unknown = sorted(set(flags) - set(VULNERABILITY_FLAGS))
    if unknown:
        raise ValidationFailed(
            f"未知重点人群类别 / unknown vulnerability: {', '.join(unknown)}", field="vulnerability"
        )
    return [flag for flag in VULNERABILITY_FLAGS if flag in flags]


@router.get("/console/registry/households/{code}", response_class=HTMLResponse)
def household_page(request: Request, code: str) -> HTMLResponse:
    user = console_user(request)
    with db_of(request).read() as session:
        household = session.scalar(
            select(Household)
            .where(Household.code == code)
            .options(
                selectinload(Household.people),
                selectinload(Household.grid),
                selectinload(Household.worker),
                selectinload(Household.hazard_zones),
            )
        )
        if household is None:
            return missing(request, f"household {code}")
        return page(
            request,
            "console_household.html",
            user,
            "registry",
            household=household,
            flags=VULNERABILITY_FLAGS,
            saved=request.query_params.get("saved") == "1",
            version=household.updated_at.isoformat(),
        )


@router.post("/console/registry/households/{code}")
def household_save(
    request: Request,
    code: str,
    csrf: str = Form(""),
    notes: str = Form("", max_length=MAX_NOTES * 2),
    vulnerability: list[str] = Form(default=[]),
    version: str = Form(""),
) -> Response:
    """Save notes and vulnerability flags; refused if someone else changed the household since."""
    user = console_write(request, csrf)
    try:
        cleaned, flags = clean_notes(notes), clean_flags(vulnerability)
        with db_of(request).transaction() as session:
            household = session.scalar(
                select(Household).where(Household.code == code).with_for_update()
            )
            if household is None:
                return missing(request, f"household {code}")
            if version and household.updated_at.isoformat() != version:
                raise Conflict(
                    "该住户已被他人修改，请刷新后重试 / the household changed meanwhile, reload",
                    field="version",
                )
            before = {"notes": household.notes, "vulnerability": list(household.vulnerability)}
            household.notes, household.vulnerability = cleaned, flags
            household.is_vulnerable = bool(flags)
            record(
                session,
                actor=principal(user, request).actor,
                action="household.edit",
                object_type="household",
                object_id=code,
                before=before,
                after={"notes": cleaned, "vulnerability": flags},
            )
    except BroadcasterError as exc:
        return message(request, exc)
    return RedirectResponse(f"/console/registry/households/{code}?saved=1", status_code=303)


@router.post("/console/registry/import", response_class=HTMLResponse)
def import_file(request: Request, csrf: str = Form(""), file: UploadFile = File(...)) -> Response:
    """The household file import (administrators): every bad row reported in the page."""
    user = console_write(request, csrf, Role.admin)
    report, error = None, None
    limits = settings_of(request).imports
    try:
        data = read_upload(file.file, limits)
        with db_of(request).transaction() as session:
            report = import_households(
                session,
                data=data,
                filename=file.filename or "upload",
                actor=principal(user, request).actor,
                limits=limits,
            )
    except BroadcasterError as exc:
        error = exc.message
    return page(
        request,
        "console_registry.html",
        user,
        "registry",
        tab="import",
        tabs=["households", "import", "zones", "groups", "speakers", "workers", "keys"],
        page_number=1,
        report=report,
        import_error=error,
        shown_problems=SHOWN_PROBLEMS,
        filename=file.filename or "",
    )
