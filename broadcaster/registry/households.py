"""Editing a household's notes, vulnerability flags, members and proxy contacts: checked,
audited, and refused when someone else changed the household since the editor loaded it."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.auth.audit import Actor, record
from broadcaster.db.base import utcnow
from broadcaster.errors import Conflict, NotFound, ValidationFailed
from broadcaster.registry.contacts import (
    Member,
    clean_members,
    clean_proxies,
    contacts_summary,
    set_members,
    set_proxies,
)
from broadcaster.registry.importer.values import VULNERABILITY_FLAGS
from broadcaster.registry.models import Household, ZoneKind
from broadcaster.registry.schemas import HouseholdIn, PersonIn, ProxyIn
from broadcaster.registry.service import zone_by_code, zones_by_code

MAX_NOTES = 2000


def clean_notes(text: str) -> str:
    """Notes as typed, minus control characters (newlines and tabs stay); length-checked."""
    kept = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    ).strip()
    if len(kept) > MAX_NOTES:
        raise ValidationFailed(f"备注过长（最多 {MAX_NOTES} 字）/ notes too long", field="notes")
    return kept.replace("\r\n", "\n")


def clean_flags(flags: list[str]) -> list[str]:
    """Known vulnerability flags in their canonical order; an unknown one is refused."""
    unknown = sorted(set(flags) - set(VULNERABILITY_FLAGS))
    if unknown:
        raise ValidationFailed(
            f"未知重点人群类别 / unknown vulnerability: {', '.join(unknown)}", field="vulnerability"
        )
    return [flag for flag in VULNERABILITY_FLAGS if flag in flags]


def version_of(household: Household) -> str:
    """What an editor sends back to say which state of the household it edited."""
    return household.updated_at.isoformat()


def edit_household(
    session: Session,
    *,
    code: str,
    actor: Actor,
    notes: str | None = None,
    vulnerability: list[str] | None = None,
    people: Sequence[PersonIn] | None = None,
    proxies: Sequence[ProxyIn] | None = None,
    version: str | None = None,
) -> Household:
    """Change what is given (notes, vulnerability, the members — with or without a phone —
    and the proxies); every value is checked before anything changes. NotFound for an
    unknown code, Conflict if `version` is no longer current."""
    cleaned = None if notes is None else clean_notes(notes)
    flags = None if vulnerability is None else clean_flags(vulnerability)
    members = None if people is None else clean_members(people)
    contacts = None if proxies is None else clean_proxies(proxies)
    household = session.scalar(select(Household).where(Household.code == code).with_for_update())
    if household is None:
        raise NotFound(f"未知住户 / unknown household: {code}")
    if version and version_of(household) != version:
        raise Conflict(
            "该住户已被他人修改，请刷新后重试 / the household changed meanwhile, reload",
            field="version",
        )
    before = {
        "notes": household.notes,
        "vulnerability": list(household.vulnerability),
        **contacts_summary(household),
    }
    if cleaned is not None:
        household.notes = cleaned
    if flags is not None:
        household.vulnerability, household.is_vulnerable = flags, bool(flags)
    if members is not None:
        set_members(session, household, members)
    if contacts is not None:
        set_proxies(household, contacts)
    if members is not None or contacts is not None:
        household.updated_at = utcnow()  # a new version even when only the lists changed
    record(
        session,
        actor=actor,
        action="household.edit",
        object_type="household",
        object_id=code,
        before=before,
        after={
            "notes": household.notes,
            "vulnerability": list(household.vulnerability),
            **contacts_summary(household),
        },
    )
    session.flush()
    return household


def create_household(session: Session, *, body: HouseholdIn, actor: Actor) -> Household:
    """Register one household; every value is checked first (a 422 naming the field, a 409
    for a code in use). Without members, its head is a member without a phone (无电话)."""
    flags = clean_flags(body.vulnerability)
    notes = clean_notes(body.notes)
    members = clean_members(body.people) or [Member(body.head_name, None)]
    contacts = clean_proxies(body.proxies)
    grid = zone_by_code(session, body.grid_code, field="grid_code")
    if grid.kind != ZoneKind.grid:
        raise ValidationFailed(f"{body.grid_code} 不是网格 / not a grid zone", field="grid_code")
    hazards = zones_by_code(session, sorted(set(body.hazard_zones))) if body.hazard_zones else []
    wrong = [z.code for z in hazards if z.kind != ZoneKind.hazard]
    if wrong:
        raise ValidationFailed(
            f"不是风险区 / not hazard zones: {', '.join(wrong)}", field="hazard_zones"
        )
    if session.scalar(select(Household.id).where(Household.code == body.code)) is not None:
        raise Conflict(f"户编号已存在 / household code in use: {body.code}", field="code")
    household = Household(
        code=body.code,
        head_name=body.head_name,
        address=body.address,
        grid_id=grid.id,
        worker_id=None,
        vulnerability=flags,
        is_vulnerable=bool(flags),
        hazard_zones=hazards,
        notes=notes,
        people=[],
        proxies=[],
    )
    session.add(household)
    set_members(session, household, members)
    set_proxies(household, contacts)
    session.flush()
    record(
        session,
        actor=actor,
        action="household.create",
        object_type="household",
        object_id=body.code,
        after={"vulnerability": flags, **contacts_summary(household)},
    )
    return household
