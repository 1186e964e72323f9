"""Registry writes from the console: a household's notes, vulnerability, members and proxies,
and the file import."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from broadcaster.auth.models import Role
from broadcaster.errors import BroadcasterError, ValidationFailed
from broadcaster.registry.households import MAX_NOTES, edit_household, version_of
from broadcaster.registry.importer import import_households
from broadcaster.registry.importer.reading import read_upload
from broadcaster.registry.importer.values import VULNERABILITY_FLAGS
from broadcaster.registry.models import Household
from broadcaster.registry.schemas import PersonIn, ProxyIn
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
T = TypeVar("T", bound=BaseModel)
BLANK_ROWS = ({"name": "", "phone": ""},) * 2  # room to add members in the form
BLANK_PROXIES = ({"name": "", "phone": "", "relation": "", "may_confirm": False},) * 2


def _cell(values: list[str], index: int) -> str:
    return values[index].strip() if index < len(values) else ""


def _checked(model: type[T], field: str, values: dict[str, Any]) -> T:
    """A form row as its API model; a bad value is a ValidationFailed naming the row."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in (field, *error["loc"]))
        raise ValidationFailed(f"{where}: {error['msg']}", field=where) from None


def form_members(names: list[str], phones: list[str]) -> list[PersonIn]:
    """The member rows of the form (a name, a phone or both), blank rows left out."""
    rows = [(_cell(names, i), _cell(phones, i)) for i in range(max(len(names), len(phones)))]
    return [
        _checked(PersonIn, f"people[{i}]", {"name": name or None, "phone": phone or None})
        for i, (name, phone) in enumerate(row for row in rows if any(row))
    ]


def form_proxies(
    names: list[str], phones: list[str], relations: list[str], confirms: list[str]
) -> list[ProxyIn]:
    """The proxy rows of the form, blank ones (no name, no phone) left out."""
    size = max(len(names), len(phones), len(relations))
    rows = [
        (_cell(names, i), _cell(phones, i), _cell(relations, i), _cell(confirms, i) == "1")
        for i in range(size)
    ]
    kept = [row for row in rows if row[0] or row[1]]
    return [
        _checked(
            ProxyIn,
            f"proxies[{i}]",
            {"name": name, "phone": phone, "relation": relation, "may_confirm": may_confirm},
        )
        for i, (name, phone, relation, may_confirm) in enumerate(kept)
    ]


@router.get("/console/registry/households/{code}", response_class=HTMLResponse)
def household_page(request: Request, code: str) -> HTMLResponse:
    user = console_user(request)
    with db_of(request).read() as session:
        household = session.scalar(
            select(Household)
            .where(Household.code == code)
            .options(
                selectinload(Household.people),
                selectinload(Household.proxies),
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
            no_phone=not any(p.phone and p.active for p in household.people),
            members=[*(p for p in household.people if p.active), *BLANK_ROWS],
            proxy_rows=[*household.proxies, *BLANK_PROXIES],
        )


@router.post("/console/registry/households/{code}")
def household_save(
    request: Request,
    code: str,
    csrf: str = Form(""),
    notes: str = Form("", max_length=MAX_NOTES * 2),
    vulnerability: list[str] = Form(default=[]),
    version: str = Form(""),
    contacts: str = Form(""),
    member_name: list[str] = Form(default=[]),
    member_phone: list[str] = Form(default=[]),
    proxy_name: list[str] = Form(default=[]),
    proxy_phone: list[str] = Form(default=[]),
    proxy_relation: list[str] = Form(default=[]),
    proxy_may_confirm: list[str] = Form(default=[]),
) -> Response:
    """Save notes, vulnerability flags and (with `contacts`) the members and proxies; refused
    if someone else changed the household since. Blank rows of the form are left out."""
    user = console_write(request, csrf)
    people, proxies = None, None
    try:
        if contacts:
            people = form_members(member_name, member_phone)
            proxies = form_proxies(proxy_name, proxy_phone, proxy_relation, proxy_may_confirm)
        with db_of(request).transaction() as session:
            edit_household(
                session,
                code=code,
                actor=principal(user, request).actor,
                notes=notes,
                vulnerability=vulnerability,
                people=people,
                proxies=proxies,
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
