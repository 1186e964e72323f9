"""Registry writes from the console: a household's notes and vulnerability, and the file import."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from broadcaster.auth.models import Role
from broadcaster.errors import BroadcasterError
from broadcaster.registry.households import MAX_NOTES, edit_household, version_of
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
SHOWN_PROBLEMS = 500


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
            version=version_of(household),
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
        with db_of(request).transaction() as session:
            edit_household(
                session,
                code=code,
                actor=principal(user, request).actor,
                notes=notes,
                vulnerability=vulnerability,
                version=version or None,
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
