"""The demo district's households and people, drawn in order from seeded streams."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from broadcaster.sample import layout as lay
from broadcaster.sample.contacts import Contacts

VULNERABLE_SHARE = 0.10
LANDLINE_SHARE = 0.025  # plus 30 % of the elderly living alone: about 3 % of people
INACTIVE_SHARE = 0.03  # of members other than the head (moved away)

Row = tuple[Any, ...]


@dataclass
class Chunk:
    households: list[Row] = field(default_factory=list)
    people: list[Row] = field(default_factory=list)
    links: list[Row] = field(default_factory=list)
    proxies: list[Row] = field(default_factory=list)


def _affine(rng: random.Random, span: int) -> tuple[int, int]:
    """A multiplier coprime with span and an offset: k -> (a*k + b) % span is a bijection."""
    a = rng.randrange(span // 3, span)
    while math.gcd(a, span) != 1:
        a += 1
    return a, rng.randrange(span)


class Residents:
    """Households and their people, drawn in order from seeded streams."""

    def __init__(self, seed: int, household_id: int, person_id: int) -> None:
        self.rng = random.Random(f"{seed}/households")
        phones = random.Random(f"{seed}/phones")
        self.mobile_a, self.mobile_b = _affine(phones, lay.PEOPLE_MOBILE_SPAN)
        self.landline_a, self.landline_b = _affine(phones, lay.LANDLINE_SPAN)
        self.mobiles = self.landlines = 0
        self.household_id, self.person_id = household_id, person_id
        self.contacts = Contacts(seed)

    def phone(self, landline: bool) -> str:
        if landline:
            k, self.landlines = self.landlines, self.landlines + 1
            local = lay.LANDLINE_BASE + (self.landline_a * k + self.landline_b) % lay.LANDLINE_SPAN
            return f"+8623{local}"
        k, self.mobiles = self.mobiles, self.mobiles + 1
        if k >= lay.PEOPLE_MOBILE_SPAN:
            raise ValueError("the reserved mobile block is exhausted")
        offset = (self.mobile_a * k + self.mobile_b) % lay.PEOPLE_MOBILE_SPAN
        return f"+86{lay.PEOPLE_MOBILE_BASE + offset}"

    def flags(self, urban: bool) -> list[str]:
        rnd, picks = self.rng.random, lay.FLAG_PICKS[urban]
        if rnd() >= VULNERABLE_SHARE:
            return []
        flags: list[str] = []
        for _ in range(1 if rnd() < 0.85 else 2):
            flag = lay.VULNERABILITY_FLAGS[int(picks[int(rnd() * len(picks))])]
            if flag not in flags:
                flags.append(flag)
        return flags

    def grid(self, village: lay.Village, index: int, width: int, out: Chunk) -> None:
        """Append one grid's households, people and hazard-zone links to the chunk."""
        rng, rnd, sizes, phone = self.rng, self.rng.random, lay.SIZE_PICKS, self.phone
        add_person, add_household = out.people.append, out.households.append
        grid_code = f"{village.code}G{index + 1:0{width}d}"
        grid_id, worker_id = village.first_grid_id + index, village.first_worker_id + 2 + index
        group_id, hazards, road = village.wechat_group_id, village.hazards[index], village.spec.road
        lat0, lon0 = village.grid_centre(index)
        where = lay.DISTRICT_NAME + village.township.name + village.spec.name
        contacts = self.contacts
        contacts.start_grid()
        for j in range(village.grid_households(index)):
            hid = self.household_id
            self.household_id += 1
            flags = self.flags(road is not None)
            alone = "elderly_alone" in flags
            size = 1 if alone else int(sizes[int(rnd() * len(sizes))])
            head = lay.person_name(rng)
            phones_kind = contacts.kind(alone)
            head_phone: tuple[str | None, str | None] = (None, None)
            for position in range(size):
                if position == 0:
                    name = head
                else:  # the spouse keeps their own surname, the others take the head's
                    name = lay.person_name(rng, head[0] if position > 1 else None)
                landline = rnd() < (0.3 if alone else LANDLINE_SHARE)
                active = position == 0 or rnd() >= INACTIVE_SHARE
                number: str | None = phone(landline or phones_kind == "landline")
                kind: str | None = "landline" if landline or phones_kind == "landline" else "mobile"
                if phones_kind == "none":  # drawn all the same: the other numbers stay put
                    number = kind = None
                head_phone = (number, kind) if position == 0 else head_phone
                add_person((self.person_id, hid, position, name, number, kind, "zh-CN", active))
                self.person_id += 1
            shared = None if phones_kind == "none" else contacts.shared_member(head, size, alone)
            if shared is not None:
                name, number, kind = shared
                add_person((self.person_id, hid, size, name, number, kind, "zh-CN", True))
                self.person_id += 1
            out.proxies.extend(
                contacts.proxies(
                    hid,
                    head,
                    no_phone=phones_kind == "none",
                    alone=alone,
                    fresh_mobile=lambda: phone(False),
                )
            )
            contacts.after(head, *head_phone)
            if road:
                flat = f"{j // 24 + 1}栋{j // 12 % 2 + 1}单元{j % 12 // 2 + 1}0{j % 2 + 1}室"
                address = f"{where}{road}{index + 1}号{flat}"
            else:
                address = f"{where}{index + 1}组{j + 1}号"
            lat = round(lat0 + (rnd() - 0.5) * 0.002, 6)
            lon = round(lon0 + (rnd() - 0.5) * 0.002, 6)
            if flags:
                vulnerability = json.dumps(flags)
                notes = "；".join(lay.FLAG_NOTES[f] for f in flags)
            else:
                vulnerability, notes = "[]", ""
            add_household((hid, f"{grid_code}-{j + 1:04d}", head, address, grid_id, worker_id,
                           group_id, vulnerability, bool(flags), lat, lon, notes))  # fmt: skip
            for zone_id in hazards:
                out.links.append((hid, zone_id))
