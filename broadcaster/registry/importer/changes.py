"""The statements a batch of imported rows needs, and the planning of members without a phone
and of proxy contacts (代联系人)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from broadcaster.registry.importer.existing import ExistingHousehold
from broadcaster.registry.importer.proxies import proxy_rows
from broadcaster.registry.importer.validate import HouseholdRow


@dataclass
class Changes:
    """The statements one batch needs, gathered before any is executed."""

    new_households: list[dict[str, Any]] = field(default_factory=list)
    new_zones: dict[str, frozenset[int]] = field(default_factory=dict)
    new_people: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    household_updates: list[dict[str, Any]] = field(default_factory=list)
    zone_inserts: list[dict[str, int]] = field(default_factory=list)
    zone_deletes: list[dict[str, int]] = field(default_factory=list)
    person_inserts: list[dict[str, Any]] = field(default_factory=list)
    person_updates: list[dict[str, Any]] = field(default_factory=list)
    person_deactivations: list[int] = field(default_factory=list)
    new_proxies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    proxy_replaced: list[int] = field(default_factory=list)  # households whose proxies change
    proxy_inserts: list[dict[str, Any]] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0


def plan_proxies(
    row: HouseholdRow,
    stored: ExistingHousehold,
    changes: Changes,
    present: frozenset[str],
    now: dt.datetime,
) -> bool:
    """Replace the household's proxies when the file has the column and they differ."""
    if "proxy_name" not in present:
        return False
    wanted = [(p.name, p.phone, p.kind, p.relation, p.may_confirm) for p in row.proxies]
    if wanted == stored.proxies:
        return False
    changes.proxy_replaced.append(stored.id)
    changes.proxy_inserts.extend(
        {"household_id": stored.id, **p} for p in proxy_rows(row.proxies, now)
    )
    return True


def plan_phoneless_head(
    row: HouseholdRow,
    stored: ExistingHousehold,
    changes: Changes,
    now: dt.datetime,
    head_row: dict[str, Any],
) -> bool:
    """A row without a phone keeps its head as a member without one (`head_row`, when it is
    new); a row with phones retires that placeholder (members without a phone added by hand
    stay)."""
    heads = [p for p in stored.phoneless if p.name == row.head_name or p.position == 0]
    if row.phones:
        gone = [p.id for p in heads if p.active and p.name == row.head_name]
        changes.person_deactivations.extend(gone)
        return bool(gone)
    if not heads:
        changes.person_inserts.append({"household_id": stored.id, **head_row})
        return True
    head = heads[0]
    if (head.position, head.name, head.active) == (0, row.head_name, True):
        return False
    changes.person_updates.append(
        {
            "b_id": head.id,
            "position": 0,
            "name": row.head_name,
            "phone_kind": None,
            "active": True,
            "updated_at": now,
        }
    )
    return True
