"""Applying a batch of valid rows with bulk statements: inserts, updates, deactivations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy.orm import Session

from broadcaster.db.base import utcnow
from broadcaster.registry.importer.bulk import insert_rows
from broadcaster.registry.importer.changes import (
    Changes,
    plan_phoneless_head,
    plan_proxies,
)
from broadcaster.registry.importer.existing import (
    HOUSEHOLD_ZONES,
    HOUSEHOLDS,
    PEOPLE,
    PROXIES,
    ExistingHousehold,
    among,
    load_existing,
)
from broadcaster.registry.importer.proxies import proxy_rows
from broadcaster.registry.importer.validate import HouseholdRow, Lookups
from broadcaster.registry.models import Worker, WorkerRole

WORKERS = cast(Table, Worker.__table__)
# File columns whose absence keeps the stored values of these household fields.
OPTIONAL_FIELDS = {
    "vulnerability": ("vulnerability", "is_vulnerable"),
    "worker_name": ("worker_id",),
    "group_code": ("group_id",),
    "lon": ("lon", "lat"),
}
IN_CHUNK = 500


class Writer:
    """Writes batches of valid rows; keeps the worker lookup current as workers are created."""

    def __init__(self, session: Session, lookups: Lookups, present: frozenset[str]) -> None:
        self.session = session
        self.lookups = lookups
        self.present = present
        self.warnings: list[str] = []
        self.warned: set[str] = set()
        self.logins: dict[str, tuple[str, int]] = {}  # worker phone: (login, first row)
        self.no_phone = 0  # households written without any phone (无电话)
        self.now: dt.datetime = utcnow()

    def apply(self, rows: Sequence[HouseholdRow]) -> tuple[int, int, int]:
        """Write one batch; return (created, updated, unchanged)."""
        if not rows:
            return 0, 0, 0
        existing = load_existing(self.session, (row.code for row in rows))
        self._create_workers(rows)
        changes = Changes()
        for row in rows:
            stored = existing.get(row.code)
            self.no_phone += not row.phones
            if stored is None:
                self._plan_new(row, changes)
            else:
                self._plan_existing(row, stored, changes)
        self._execute(changes)
        return len(changes.new_households), changes.updated, changes.unchanged

    def _create_workers(self, rows: Sequence[HouseholdRow]) -> None:
        wanted: dict[str, tuple[str, int]] = {}
        for row in rows:
            ref = row.worker
            if ref is None:
                continue
            if ref.login:
                self.logins.setdefault(ref.phone, (ref.login, row.row))
            known = self.lookups.workers.get(ref.phone)
            first = wanted.setdefault(ref.phone, (ref.name, row.row))
            stored_name = known[1] if known else first[0]
            if stored_name != ref.name and ref.phone not in self.warned:
                self.warned.add(ref.phone)
                self.warnings.append(
                    f"第 {row.row} 行：包保责任人电话 {ref.phone} 已属于“{stored_name}”，"
                    f"未改用“{ref.name}” / row {row.row}: worker phone {ref.phone} "
                    f"belongs to {stored_name!r}; kept that name"
                )
        new: list[dict[str, Any]] = [
            {
                "name": name,
                "phone": phone,
                "role": WorkerRole.field,
                "user_id": None,
                "active": True,
                "created_at": self.now,
                "updated_at": self.now,
            }
            for phone, (name, _row) in wanted.items()
            if phone not in self.lookups.workers
        ]
        if not new:
            return
        ids = insert_rows(self.session, WORKERS, new, return_ids=True)
        for id_, worker in zip(ids, new, strict=True):
            self.lookups.workers[str(worker["phone"])] = (id_, str(worker["name"]))

    def _target(self, row: HouseholdRow, stored: ExistingHousehold | None) -> dict[str, Any]:
        values: dict[str, Any] = {
            "head_name": row.head_name,
            "address": row.address,
            "grid_id": row.grid_id,
            "worker_id": self.lookups.workers[row.worker.phone][0] if row.worker else None,
            "group_id": row.group_id,
            "vulnerability": row.vulnerability,
            "is_vulnerable": bool(row.vulnerability),
            "lon": row.lon,
            "lat": row.lat,
        }
        if stored is not None:
            for column, fields in OPTIONAL_FIELDS.items():
                if column not in self.present:
                    values.update({name: stored.values[name] for name in fields})
        return values

    def _person(self, row: HouseholdRow, position: int, name: str | None) -> dict[str, Any]:
        """A member with the row's phone at `position`; without one when the row has none.
        Only what the file says (and the member's default language): the file has no e-mail
        column, so a new member's e-mail address stays empty."""
        phone = row.phones[position] if row.phones else None
        return {
            "position": position,
            "name": name,
            "phone": phone.e164 if phone else None,
            "phone_kind": phone.kind if phone else None,
            "language": "zh-CN",
            "active": True,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _plan_new(self, row: HouseholdRow, changes: Changes) -> None:
        changes.new_households.append(
            {
                "code": row.code,
                **self._target(row, None),
                "notes": "",
                "created_at": self.now,
                "updated_at": self.now,
            }
        )
        changes.new_zones[row.code] = row.hazard_zone_ids
        changes.new_people[row.code] = [
            self._person(row, position, row.head_name if position == 0 else None)
            for position in range(max(len(row.phones), 1))  # the head, phone or not
        ]
        changes.new_proxies[row.code] = proxy_rows(row.proxies, self.now)

    def _plan_existing(
        self, row: HouseholdRow, stored: ExistingHousehold, changes: Changes
    ) -> None:
        target = self._target(row, stored)
        changed = target != stored.values
        if changed:
            changes.household_updates.append({"b_id": stored.id, **target, "updated_at": self.now})
        if "hazard_zones" in self.present:
            zones = set(row.hazard_zone_ids)
            for zone_id in sorted(zones - stored.zone_ids):
                changes.zone_inserts.append({"household_id": stored.id, "zone_id": zone_id})
            for zone_id in sorted(stored.zone_ids - zones):
                changes.zone_deletes.append({"b_household_id": stored.id, "b_zone_id": zone_id})
            changed = changed or zones != stored.zone_ids
        changed = self._plan_people(row, stored, changes) or changed
        changed = plan_proxies(row, stored, changes, self.present, self.now) or changed
        if changed:
            changes.updated += 1
        else:
            changes.unchanged += 1

    def _plan_people(self, row: HouseholdRow, stored: ExistingHousehold, changes: Changes) -> bool:
        changed = False
        for position, phone in enumerate(row.phones):
            person = stored.people.get(phone.e164)
            if person is None:
                name = row.head_name if position == 0 else None
                changes.person_inserts.append(
                    {"household_id": stored.id, **self._person(row, position, name)}
                )
                changed = True
                continue
            name = row.head_name if position == 0 else person.name
            if (person.position, person.name, person.kind, person.active) != (
                position,
                name,
                phone.kind,
                True,
            ):
                changes.person_updates.append(
                    {
                        "b_id": person.id,
                        "position": position,
                        "name": name,
                        "phone_kind": phone.kind,
                        "active": True,
                        "updated_at": self.now,
                    }
                )
                changed = True
        current = {phone.e164 for phone in row.phones}
        for phone_number, person in stored.people.items():
            if person.active and phone_number not in current:
                changes.person_deactivations.append(person.id)
                changed = True
        return (
            plan_phoneless_head(row, stored, changes, self.now, self._person(row, 0, row.head_name))
            or changed
        )

    def _execute(self, changes: Changes) -> None:
        execute = self.session.execute
        if changes.new_households:
            ids = insert_rows(self.session, HOUSEHOLDS, changes.new_households, return_ids=True)
            new_ids = {
                row["code"]: id_ for row, id_ in zip(changes.new_households, ids, strict=True)
            }
            changes.zone_inserts.extend(
                {"household_id": new_ids[code], "zone_id": zone_id}
                for code, zone_ids in changes.new_zones.items()
                for zone_id in sorted(zone_ids)
            )
            changes.person_inserts.extend(
                {"household_id": new_ids[code], **person}
                for code, people in changes.new_people.items()
                for person in people
            )
            changes.proxy_inserts.extend(
                {"household_id": new_ids[code], **proxy}
                for code, proxies in changes.new_proxies.items()
                for proxy in proxies
            )
        if changes.household_updates:
            execute(_update_by_id(HOUSEHOLDS), changes.household_updates)
        if changes.zone_deletes:
            execute(
                delete(HOUSEHOLD_ZONES).where(
                    HOUSEHOLD_ZONES.c.household_id == bindparam("b_household_id"),
                    HOUSEHOLD_ZONES.c.zone_id == bindparam("b_zone_id"),
                ),
                changes.zone_deletes,
            )
        insert_rows(self.session, HOUSEHOLD_ZONES, changes.zone_inserts)
        if changes.person_updates:
            execute(_update_by_id(PEOPLE), changes.person_updates)
        gone = changes.person_deactivations
        for start in range(0, len(gone), IN_CHUNK):
            execute(
                update(PEOPLE)
                .where(among(self.session, PEOPLE.c.id, gone[start : start + IN_CHUNK]))
                .values(active=False, updated_at=self.now)
            )
        insert_rows(self.session, PEOPLE, changes.person_inserts)
        replaced = changes.proxy_replaced
        for start in range(0, len(replaced), IN_CHUNK):
            execute(
                delete(PROXIES).where(
                    among(self.session, PROXIES.c.household_id, replaced[start : start + IN_CHUNK])
                )
            )
        insert_rows(self.session, PROXIES, changes.proxy_inserts)


def _update_by_id(table: Table) -> Any:
    """UPDATE table SET … WHERE id = :b_id; executemany takes SET columns from the keys."""
    return update(table).where(table.c.id == bindparam("b_id"))
