"""A household's members (with or without a phone) and proxy contacts (代联系人) as an edit sets
them: every number checked and normalised first, then the lists replaced in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from broadcaster.errors import ValidationFailed
from broadcaster.registry.importer.values import Phone, PhoneError, normalise_phone
from broadcaster.registry.models import Household, Person, Proxy
from broadcaster.registry.schemas import PersonIn, ProxyIn


@dataclass(frozen=True)
class Member:
    name: str | None
    phone: Phone | None


@dataclass(frozen=True)
class Contact:
    name: str
    phone: Phone
    relation: str
    may_confirm: bool


def _phone(raw: str, field: str, label: str, region: str) -> Phone:
    try:
        return normalise_phone(raw, region)
    except PhoneError as exc:
        raise ValidationFailed(f"{label}电话无效：{exc} / {field}: {exc}", field=field) from None


def clean_members(people: Sequence[PersonIn], region: str = "CN") -> list[Member]:
    """The members with normalised numbers; a ValidationFailed naming `people[i].…`."""
    members: list[Member] = []
    seen: dict[str, int] = {}
    for index, person in enumerate(people):
        label, field = f"第 {index + 1} 位成员", f"people[{index}]"
        name = (person.name or "").strip() or None
        raw = (person.phone or "").strip()
        if not name and not raw:
            raise ValidationFailed(
                f"{label}：姓名和电话至少填一项 / {field}: give a name or a phone", field=field
            )
        phone = _phone(raw, f"{field}.phone", label, region) if raw else None
        if phone is not None:
            if phone.e164 in seen:
                raise ValidationFailed(
                    f"{label}的电话与第 {seen[phone.e164] + 1} 位重复 / {field}.phone: duplicate",
                    field=f"{field}.phone",
                )
            seen[phone.e164] = index
        members.append(Member(name, phone))
    return members


def clean_proxies(proxies: Sequence[ProxyIn], region: str = "CN") -> list[Contact]:
    """The proxies with normalised numbers; a ValidationFailed naming `proxies[i].…`."""
    contacts: list[Contact] = []
    seen: set[str] = set()
    for index, proxy in enumerate(proxies):
        label, field = f"第 {index + 1} 位代联系人", f"proxies[{index}]"
        if not proxy.name.strip():
            raise ValidationFailed(
                f"{label}缺少姓名 / {field}.name: required", field=f"{field}.name"
            )
        phone = _phone(proxy.phone, f"{field}.phone", label, region)
        if phone.e164 in seen:
            raise ValidationFailed(
                f"{label}的电话重复 / {field}.phone: duplicate", field=f"{field}.phone"
            )
        seen.add(phone.e164)
        contacts.append(Contact(proxy.name.strip(), phone, proxy.relation, proxy.may_confirm))
    return contacts


def set_members(session: Session, household: Household, members: Sequence[Member]) -> None:
    """Members in the given order: a known number keeps its row (deliveries refer to it), a
    member without a phone is matched by name; anyone left out is retired, never deleted."""
    by_phone = {p.phone: p for p in household.people if p.phone}
    phoneless = [p for p in household.people if p.phone is None]
    kept: list[Person] = []
    for position, member in enumerate(members):
        if member.phone is not None:
            person = by_phone.get(member.phone.e164)
        else:
            person = next((p for p in phoneless if p.name == member.name and p not in kept), None)
        if person is None:
            person = Person(household=household, phone=member.phone.e164 if member.phone else None)
            session.add(person)
        person.position, person.name, person.active = position, member.name, True
        person.phone_kind = member.phone.kind if member.phone else None
        kept.append(person)
    retired = [p for p in household.people if p not in kept]
    for position, person in enumerate(retired, start=len(kept)):  # listed after the members
        person.position, person.active = position, False


def set_proxies(household: Household, contacts: Sequence[Contact]) -> None:
    """Proxies in the given order (a known number keeps its row); the others are removed."""
    by_phone = {p.phone: p for p in household.proxies}
    rows: list[Proxy] = []
    for position, contact in enumerate(contacts):
        proxy = by_phone.pop(contact.phone.e164, None) or Proxy(phone=contact.phone.e164)
        proxy.position, proxy.name, proxy.phone_kind = position, contact.name, contact.phone.kind
        proxy.relation, proxy.may_confirm = contact.relation, contact.may_confirm
        rows.append(proxy)
    household.proxies = rows


def contacts_summary(household: Household) -> dict[str, object]:
    """What the audit keeps of an edit's contacts: names and counts, no numbers."""
    active = [p for p in household.people if p.active]
    return {
        "people": [p.name or "" for p in active],
        "no_phone": not any(p.phone for p in active),
        "proxies": [
            f"{p.name}（{p.relation}）" if p.relation else p.name for p in household.proxies
        ],
    }
