"""Checking one data row against lookups loaded once, without touching the database."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from broadcaster.registry.importer.columns import COLUMN_BY_KEY, Header
from broadcaster.registry.importer.proxies import ProxyRef, read_proxies
from broadcaster.registry.importer.schemas import ImportProblem
from broadcaster.registry.importer.values import (
    Phone,
    PhoneError,
    cell_text,
    fold,
    normalise_phone,
    parse_coordinate,
    parse_phones,
    parse_vulnerability,
    split_values,
)
from broadcaster.registry.models import Group, Household, Worker, Zone, ZoneKind

REQUIRED = "必填 / required"
# What a phones cell says for a household without any phone (a blank cell says the same).
NO_PHONE_WORDS = frozenset({"无", "无电话", "没有", "none", "no phone", "-", "—", "/"})


def _length(attribute: InstrumentedAttribute[str]) -> int:
    length = getattr(attribute.expression.type, "length", None)
    assert isinstance(length, int)
    return length


# Column widths of the tables, so that no row fails at INSERT time.
LOGIN_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MAX_LENGTH = {
    "household_code": _length(Household.code),
    "head_name": _length(Household.head_name),
    "address": _length(Household.address),
    "worker_name": _length(Worker.name),
}


@dataclass
class Lookups:
    """Everything a row is checked against, loaded with one query per table."""

    region: str
    zones: dict[str, tuple[int, ZoneKind]]
    groups: dict[str, int]
    workers: dict[str, tuple[int, str]]

    @classmethod
    def load(cls, session: Session, region: str) -> Lookups:
        zones = {
            code: (id_, kind)
            for id_, code, kind in session.execute(select(Zone.id, Zone.code, Zone.kind))
        }
        groups = {code: id_ for id_, code in session.execute(select(Group.id, Group.code))}
        workers = {
            phone: (id_, name)
            for id_, phone, name in session.execute(select(Worker.id, Worker.phone, Worker.name))
        }
        return cls(region=region, zones=zones, groups=groups, workers=workers)


@dataclass(frozen=True)
class WorkerRef:
    """The responsible worker named by a row (found or created by phone)."""

    phone: str
    name: str
    login: str | None = None  # a login to make for the worker, if it has none


@dataclass
class HouseholdRow:
    """A row resolved to ids and canonical values (absent or blank columns give defaults)."""

    row: int
    code: str
    head_name: str
    address: str
    grid_id: int
    phones: list[Phone]
    hazard_zone_ids: frozenset[int] = frozenset()
    vulnerability: list[str] = field(default_factory=list)
    worker: WorkerRef | None = None
    group_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    proxies: list[ProxyRef] = field(default_factory=list)


class RowChecker:
    """Turns the cells of one row into a HouseholdRow or the list of its problems."""

    def __init__(self, header: Header, lookups: Lookups) -> None:
        self.header = header
        self.lookups = lookups
        self.problems: list[ImportProblem] = []
        self.row = 0

    def text(self, cells: Sequence[object], key: str) -> str:
        position = self.header.index.get(key)
        if position is None or position >= len(cells):
            return ""
        return cell_text(cells[position])

    def problem(self, key: str, value: str, reason: str) -> None:
        heading = self.header.heading(key)
        self.problems.append(
            ImportProblem(row=self.row, column=key, heading=heading, value=value, reason=reason)
        )

    def check(self, row: int, cells: Sequence[object]) -> tuple[HouseholdRow, list[ImportProblem]]:
        """The row as read, and its problems: the row is valid when there are none."""
        self.row, self.problems = row, []
        code = self.required(cells, "household_code", code=True)
        head_name = self.required(cells, "head_name")
        address = self.required(cells, "address")
        grid_id = self.grid(self.text(cells, "grid_code"))
        phones = self.phones(self.text(cells, "phones"))
        result = HouseholdRow(
            row=row,
            code=code,
            head_name=head_name,
            address=address,
            grid_id=grid_id or 0,
            phones=phones,
        )
        result.hazard_zone_ids = self.hazard_zones(self.text(cells, "hazard_zones"))
        result.vulnerability = self.vulnerability(self.text(cells, "vulnerability"))
        result.worker = self.worker(cells)
        result.group_id = self.group(fold(self.text(cells, "group_code")))
        result.lon, result.lat = self.location(cells)
        result.proxies = self.proxies(cells)
        return result, self.problems

    def required(self, cells: Sequence[object], key: str, *, code: bool = False) -> str:
        raw = self.text(cells, key)
        value = fold(raw) if code else raw.strip()
        if not value:
            self.problem(key, raw, REQUIRED)
        elif len(value) > MAX_LENGTH[key]:
            self.problem(
                key,
                raw,
                f"超过 {MAX_LENGTH[key]} 个字符 / longer than {MAX_LENGTH[key]} characters",
            )
        return value

    def grid(self, raw: str) -> int | None:
        code = fold(raw)
        if not code:
            self.problem("grid_code", raw, REQUIRED)
            return None
        zone = self.lookups.zones.get(code)
        if zone is None:
            self.problem("grid_code", raw, "未知网格编号 / unknown grid code")
            return None
        if zone[1] != ZoneKind.grid:
            self.problem(
                "grid_code",
                raw,
                f"该编号不是网格（是 {zone[1].value}） / "
                f"not a grid zone (it is a {zone[1].value} zone)",
            )
            return None
        return zone[0]

    def phones(self, raw: str) -> list[Phone]:
        """The household's numbers; none (blank, 无) is a household without a phone."""
        if not fold(raw) or fold(raw).lower() in NO_PHONE_WORDS:
            return []
        phones, bad = parse_phones(raw, self.lookups.region)
        for value, reason in bad:
            self.problem("phones", value, reason)
        if not phones and not bad:
            self.problem("phones", raw, "至少需要一个有效号码 / at least one valid number")
        return phones

    def proxies(self, cells: Sequence[object]) -> list[ProxyRef]:
        found, problems = read_proxies(
            self.text(cells, "proxy_name"),
            self.text(cells, "proxy_phone"),
            self.text(cells, "proxy_relation"),
            self.text(cells, "proxy_may_confirm"),
            self.lookups.region,
        )
        for key, value, reason in problems:
            self.problem(key, value, reason)
        return found

    def hazard_zones(self, raw: str) -> frozenset[int]:
        ids: set[int] = set()
        for code in split_values(fold(raw)):
            zone = self.lookups.zones.get(code)
            if zone is None:
                self.problem("hazard_zones", code, "未知风险区编号 / unknown hazard zone code")
            elif zone[1] != ZoneKind.hazard:
                self.problem(
                    "hazard_zones",
                    code,
                    f"该编号不是风险区（是 {zone[1].value}） / "
                    f"not a hazard zone (it is a {zone[1].value} zone)",
                )
            else:
                ids.add(zone[0])
        return frozenset(ids)

    def vulnerability(self, raw: str) -> list[str]:
        flags, unknown = parse_vulnerability(raw)
        for word in unknown:
            self.problem(
                "vulnerability",
                word,
                "未知重点人群类型（可填：独居老人、残疾、卧床、"
                "留守儿童、孕妇、地下室） / unknown vulnerability flag",
            )
        return flags

    def worker(self, cells: Sequence[object]) -> WorkerRef | None:
        name_raw = self.text(cells, "worker_name")
        phone_raw = self.text(cells, "worker_phone")
        name = name_raw.strip()
        if not name and not fold(phone_raw):
            return None
        if not name:
            self.problem(
                "worker_name",
                name_raw,
                "填写了包保责任人电话但缺少姓名 / worker phone given without a name",
            )
        elif len(name) > MAX_LENGTH["worker_name"]:
            self.problem(
                "worker_name", name_raw, f"超过 {MAX_LENGTH['worker_name']} 个字符 / name too long"
            )
        if not fold(phone_raw):
            self.problem(
                "worker_phone",
                phone_raw,
                "填写了包保责任人但缺少电话 / worker name given without a phone",
            )
            return None
        phone = self.worker_phone(phone_raw)
        login = self.worker_login(self.text(cells, "worker_login"))
        return WorkerRef(phone=phone.e164, name=name, login=login) if phone and name else None

    def worker_login(self, raw: str) -> str | None:
        login = raw.strip()
        if login and not LOGIN_NAME.fullmatch(login):
            self.problem(
                "worker_login",
                raw,
                "账号只能用 1–64 个字母、数字或 ._@- / a login is 1-64 letters, digits or ._@-",
            )
            return None
        return login or None

    def worker_phone(self, raw: str) -> Phone | None:
        try:
            return normalise_phone(raw, self.lookups.region)
        except PhoneError as exc:
            phones, _ = parse_phones(raw, self.lookups.region)
            reason = "只能填写一个号码 / only one number allowed" if len(phones) > 1 else str(exc)
            self.problem("worker_phone", raw, reason)
            return None

    def group(self, code: str) -> int | None:
        if not code:
            return None
        group_id = self.lookups.groups.get(code)
        if group_id is None:
            self.problem("group_code", code, "未知微信群编号 / unknown group code")
        return group_id

    def location(self, cells: Sequence[object]) -> tuple[float | None, float | None]:
        lon_raw, lat_raw = self.text(cells, "lon"), self.text(cells, "lat")
        if not lon_raw and not lat_raw:
            return None, None
        values: list[float | None] = []
        for key, raw, limit in (("lon", lon_raw, 180.0), ("lat", lat_raw, 90.0)):
            if not raw:
                other = COLUMN_BY_KEY["lat" if key == "lon" else "lon"].label
                self.problem(
                    key,
                    raw,
                    f"填写了{other}但缺少{COLUMN_BY_KEY[key].label}，"
                    "经纬度须同时填写 / lon and lat must be given together",
                )
                values.append(None)
                continue
            try:
                values.append(parse_coordinate(raw, limit))
            except ValueError as exc:
                self.problem(key, raw, str(exc))
                values.append(None)
        return values[0], values[1]
