"""Reading a row's proxy contacts (代联系人): name, phone, relation, 代为确认, one per proxy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from broadcaster.registry.importer.values import (
    NONE_WORDS,
    PHONE_SEPARATORS,
    PhoneError,
    fold,
    normalise_phone,
)
from broadcaster.registry.models import PhoneKind, Proxy

MAX_PROXIES = 5
MAX_NAME = Proxy.name.type.length or 100
MAX_RELATION = Proxy.relation.type.length or 50
YES_WORDS = frozenset({"是", "可", "可以", "能", "同意", "y", "yes", "true", "1", "✓", "√"})
NO_WORDS = frozenset({"否", "不", "不可", "不可以", "不能", "n", "no", "false", "0", "×"})

YES_OR_NO = "请填“是”或“否” / yes or no"
Problem = tuple[str, str, str]  # column key, value, reason


@dataclass(frozen=True)
class ProxyRef:
    """One proxy contact of a household as the file gives it."""

    name: str
    phone: str
    kind: PhoneKind
    relation: str = ""
    may_confirm: bool = False


def split_cell(text: str) -> list[str]:
    """The values of a proxy cell, in order (repeats kept: they pair with the other cells)."""
    return [part.strip() for part in PHONE_SEPARATORS.split(fold(text)) if part.strip()]


def parse_yes_no(text: str) -> bool | None:
    """是/否 (yes/no …) as a bool, blank as no; None when it is neither."""
    word = fold(text).lower()
    if not word:
        return False
    if word in YES_WORDS:
        return True
    if word in NO_WORDS or word in NONE_WORDS:
        return False
    return None


def read_proxies(
    names: str, phones: str, relations: str, confirms: str, region: str
) -> tuple[list[ProxyRef], list[Problem]]:
    """The proxies of one row, and every problem found. Names and phones pair up in order;
    a relation or 代为确认 value is given once for all or once per proxy."""
    name_list, phone_list = split_cell(names), split_cell(phones)
    problems: list[Problem] = []
    if len(name_list) != len(phone_list):
        key, value = ("proxy_phone", phones) if name_list else ("proxy_name", names)
        problems.append(
            (
                key,
                value,
                f"代联系人 {len(name_list)} 个、电话 {len(phone_list)} 个，须一一对应 / "
                f"{len(name_list)} proxies but {len(phone_list)} phones",
            )
        )
        return [], problems
    if len(name_list) > MAX_PROXIES:
        problems.append(
            ("proxy_name", names, f"最多 {MAX_PROXIES} 个代联系人 / at most {MAX_PROXIES} proxies")
        )
        return [], problems
    relation_list = _per_proxy("proxy_relation", relations, len(name_list), problems)
    confirm_list = _per_proxy("proxy_may_confirm", confirms, len(name_list), problems)
    found: list[ProxyRef] = []
    for position, (name, raw_phone) in enumerate(zip(name_list, phone_list, strict=True)):
        if len(name) > MAX_NAME:
            problems.append(("proxy_name", name, f"超过 {MAX_NAME} 个字符 / name too long"))
        relation = relation_list[position]
        if len(relation) > MAX_RELATION:
            problems.append(("proxy_relation", relation, f"超过 {MAX_RELATION} 个字符 / too long"))
        may_confirm = parse_yes_no(confirm_list[position])
        if may_confirm is None:
            problems.append(
                ("proxy_may_confirm", confirm_list[position], "请填“是”或“否” / yes or no")
            )
        try:
            phone = normalise_phone(raw_phone, region)
        except PhoneError as exc:
            problems.append(("proxy_phone", raw_phone, str(exc)))
            continue
        found.append(ProxyRef(name, phone.e164, phone.kind, relation, bool(may_confirm)))
    return found, problems


def _per_proxy(key: str, text: str, count: int, problems: list[Problem]) -> list[str]:
    """One value per proxy: none (blank for all), one for all, or exactly one each."""
    values = split_cell(text)
    if not values:
        return [""] * count
    if len(values) == 1:
        return values * count
    if len(values) != count:
        problems.append((key, text, f"应填 1 个或 {count} 个值 / give one value or {count}"))
        return [""] * count
    return values


def proxy_rows(proxies: Sequence[ProxyRef], now: dt.datetime) -> list[dict[str, Any]]:
    """The household_proxies rows of a household's proxies (without household_id)."""
    return [
        {
            "position": position,
            "name": proxy.name,
            "phone": proxy.phone,
            "phone_kind": proxy.kind,
            "relation": proxy.relation,
            "may_confirm": proxy.may_confirm,
            "created_at": now,
            "updated_at": now,
        }
        for position, proxy in enumerate(proxies)
    ]
