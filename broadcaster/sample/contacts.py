"""The demo district's hard cases, drawn from their own seeded stream: households without any
phone (about 2 %), landline-only ones (about 3 % with the lone elderly on a landline), a phone
shared by two households, and proxy contacts (代联系人)."""

from __future__ import annotations

import random
from collections.abc import Callable

from broadcaster.sample import layout as lay

NO_PHONE_SHARE = 0.02
LANDLINE_ONLY_SHARE = 0.015  # besides the lone elderly with a landline (about 1.5 %)
SHARED_SHARE = 0.015  # a son or daughter whose phone is also in the household before
PROXY_SHARE = {"no_phone": 1.0, "elderly_alone": 0.5, "other": 0.02}
NEIGHBOUR_SHARE = 0.4  # a proxy who is the head of the household before (a neighbour)
MAY_CONFIRM_SHARE = 0.7
RELATIVES = ("儿子", "女儿", "儿媳", "女婿", "侄子", "外甥女")

Row = tuple[object, ...]
PROXY_COLUMNS = ("household_id", "position", "name", "phone", "phone_kind", "relation",
                 "may_confirm")  # fmt: skip


class Contacts:
    """Per household: how its phones are, who else answers for it, and the last head's phone
    (the neighbour's) in the grid being drawn."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"{seed}/contacts")
        self.neighbour: tuple[str, str, str] | None = None  # (name, phone, kind)

    def start_grid(self) -> None:
        self.neighbour = None

    def kind(self, alone: bool) -> str:
        """ "none" (no phone at all), "landline" (every member on a landline) or ""."""
        draw = self.rng.random()
        if draw < NO_PHONE_SHARE:
            return "none"
        if not alone and draw < NO_PHONE_SHARE + LANDLINE_ONLY_SHARE:
            return "landline"
        return ""

    def shared_member(self, head: str, size: int, alone: bool) -> tuple[str, str, str] | None:
        """(name, phone, kind) of a member whose phone the household before also lists."""
        if alone or size >= 5 or self.neighbour is None or self.rng.random() >= SHARED_SHARE:
            return None
        _name, phone, kind = self.neighbour
        return lay.person_name(self.rng, head[0]), phone, kind

    def proxies(
        self,
        household_id: int,
        head: str,
        *,
        no_phone: bool,
        alone: bool,
        fresh_mobile: Callable[[], str],
    ) -> list[Row]:
        """The household's proxy rows (at most one): a relative with a mobile of their own,
        or the neighbour before it."""
        share = PROXY_SHARE["no_phone" if no_phone else "elderly_alone" if alone else "other"]
        rnd = self.rng.random
        if rnd() >= share:
            return []
        may_confirm = rnd() < MAY_CONFIRM_SHARE
        if self.neighbour is not None and rnd() < NEIGHBOUR_SHARE:
            name, phone, kind = self.neighbour
            return [(household_id, 0, name, phone, kind, "邻居", may_confirm)]
        relation = RELATIVES[int(rnd() * len(RELATIVES))]
        name = lay.person_name(self.rng, head[0])
        return [(household_id, 0, name, fresh_mobile(), "mobile", relation, may_confirm)]

    def after(self, head: str, phone: str | None, kind: str | None) -> None:
        """Remember the household just drawn as the next one's neighbour."""
        self.neighbour = (head, phone, kind) if phone and kind else None
