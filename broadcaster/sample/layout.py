"""The demo district's fictional geography and its zone, worker, group and speaker rows."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from broadcaster.registry.models import HazardType

DISTRICT_CODE = "DEMO"
DISTRICT_NAME = "示范区"
# GB/T 2260-shaped but unassigned: 50 (Chongqing) 01 (municipal districts) 99.
DISTRICT_REGION_CODE = "500199"


@dataclass(frozen=True)
class VillageSpec:
    """A village (村) or urban community (社区) and where it lies."""

    name: str
    suffix: str  # last three digits of the 12-digit statistical division code
    weight: float  # share of the district's households, relative
    lat: float
    lon: float
    road: str | None = None  # urban communities number households along a road


@dataclass(frozen=True)
class TownshipSpec:
    """A town (镇) or street (街道) and its villages or communities."""

    name: str
    suffix: str  # digits 7-9 of the statistical code: 0xx streets, 1xx towns
    villages: tuple[VillageSpec, ...]


@dataclass(frozen=True)
class HazardSpec:
    """A hazard zone covering a stretch of grids in one or more villages."""

    code: str
    name: str
    hazard_type: HazardType
    risk: int
    # (village code, from, to): the grids whose position in the village falls in [from, to).
    cover: tuple[tuple[str, float, float], ...]


# Villages lie round 29.7N 106.6E, where the source notice's district is.
TOWNSHIPS: tuple[TownshipSpec, ...] = (
    TownshipSpec(
        "临江街道",
        "001",
        (
            VillageSpec("滨江社区", "001", 1.2, 29.705, 106.635, "滨江路"),
            VillageSpec("码头社区", "002", 1.1, 29.698, 106.646, "码头街"),
            VillageSpec("新城社区", "003", 1.3, 29.714, 106.622, "新城大道"),
            VillageSpec("桂园社区", "004", 1.0, 29.721, 106.634, "桂园路"),
        ),
    ),
    TownshipSpec(
        "三河镇",
        "101",
        (
            VillageSpec("三河村", "201", 1.0, 29.676, 106.603),
            VillageSpec("柳湾村", "202", 0.9, 29.668, 106.588),
            VillageSpec("沙坝村", "203", 1.0, 29.684, 106.579),
            VillageSpec("龙滩村", "204", 0.8, 29.657, 106.571),
        ),
    ),
    TownshipSpec(
        "青石镇",
        "102",
        (
            VillageSpec("青石村", "201", 0.9, 29.742, 106.558),
            VillageSpec("石门村", "202", 0.8, 29.756, 106.541),
            VillageSpec("高峰村", "203", 0.8, 29.771, 106.552),
            VillageSpec("松林村", "204", 0.9, 29.749, 106.526),
        ),
    ),
)

# Riverside street and river-mouth villages flood; the hill town has torrents, slides, drought.
_H = HazardType
# fmt: off
HAZARDS: tuple[HazardSpec, ...] = (
    HazardSpec("HZ-RL-01", "临江街道沿江低洼区", _H.riverside_lowland, 4,
               (("T01V01", 0.0, 0.4), ("T01V02", 0.0, 0.3))),
    HazardSpec("HZ-RL-02", "三河村沿河低洼区", _H.riverside_lowland, 4,
               (("T02V01", 0.0, 0.5), ("T02V02", 0.0, 0.3))),
    HazardSpec("HZ-WL-01", "新城社区下穿道易涝区", _H.waterlogging, 3, (("T01V03", 0.7, 1.0),)),
    HazardSpec("HZ-WL-02", "沙坝村易涝点", _H.waterlogging, 3, (("T02V03", 0.0, 0.3),)),
    HazardSpec("HZ-FF-01", "龙滩沟山洪危险区", _H.flash_flood, 5,
               (("T02V04", 0.7, 1.0), ("T03V02", 0.0, 0.3))),
    HazardSpec("HZ-FF-02", "石门溪山洪危险区", _H.flash_flood, 5,
               (("T03V02", 0.7, 1.0), ("T03V03", 0.0, 0.3))),
    HazardSpec("HZ-GH-01", "高峰村滑坡隐患区", _H.geohazard, 5, (("T03V03", 0.7, 1.0),)),
    HazardSpec("HZ-GH-02", "松林村崩塌隐患区", _H.geohazard, 4, (("T03V04", 0.0, 0.25),)),
    HazardSpec("HZ-DR-01", "青石镇旱片", _H.drought, 3,
               (("T03V01", 0.0, 1.0), ("T03V04", 0.5, 1.0))),
)
# fmt: on

# Common surnames, repeated roughly by frequency so a uniform pick is weighted.
SURNAMES = (
    "王王王王李李李李张张张张刘刘刘陈陈陈杨杨黄黄赵赵吴吴周周徐孙马朱胡郭何高林罗"
    "郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢傅钟冉谭廖"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强文玉兰"
    "春梅海燕红云德福永红小红国华淑珍成林家宏子涵雨欣浩然思远宇航佳怡梓萱俊杰"
)

VULNERABILITY_FLAGS = (
    "elderly_alone",
    "disabled",
    "bedridden",
    "child_alone",
    "pregnant",
    "basement",
)
# A uniform pick from these indexes into VULNERABILITY_FLAGS is a weighted pick; only
# urban communities (those with a road) have basement dwellings.
FLAG_PICKS = {True: "00000001111223334455", False: "000000011112233344"}
FLAG_NOTES = {
    "elderly_alone": "独居老人",
    "disabled": "残疾人",
    "bedridden": "长期卧床，行动不便",
    "child_alone": "事实无人抚养儿童",
    "pregnant": "孕妇",
    "basement": "居住地下室",
}

# Household size 1-5 picked uniformly from this string: mean 2.52.
SIZE_PICKS = "1" * 23 + "2" * 31 + "3" * 25 + "4" * 13 + "5" * 8

# The 1740 block (174 00-05 validates as a CN mobile) is never assigned to residents.
# People get 17401000000-17405999999, workers 17400500000-17400999999; the test
# factories keep to 174000xxxxx.
PEOPLE_MOBILE_BASE, PEOPLE_MOBILE_SPAN = 17401000000, 5_000_000
WORKER_MOBILE_BASE, WORKER_MOBILE_SPAN = 17400500000, 500_000
# Chongqing (023) landlines: no subscriber number begins with 1.
LANDLINE_BASE, LANDLINE_SPAN = 10_000_000, 10_000_000
GRID_TARGET = 45  # households per grid
QQ_EVERY = 3  # every third village also keeps a QQ group
SPEAKERS_PER_VILLAGE = 2


@dataclass
class Village:
    """One village of the plan, with the ids allotted to it."""

    township: TownshipSpec
    township_index: int
    spec: VillageSpec
    code: str
    households: int
    grids: int
    zone_id: int = 0
    first_grid_id: int = 0
    first_worker_id: int = 0  # lead, operator, then one field worker per grid
    wechat_group_id: int = 0
    hazards: list[tuple[int, ...]] = field(default_factory=list)  # per grid: hazard zone ids

    @property
    def region_code(self) -> str:
        return DISTRICT_REGION_CODE + self.township.suffix + self.spec.suffix

    def grid_households(self, index: int) -> int:
        base, extra = divmod(self.households, self.grids)
        return base + (1 if index < extra else 0)

    def grid_centre(self, index: int) -> tuple[float, float]:
        """Grids lie on a sunflower spiral of fixed radius round the village centre."""
        radius = 0.008 * math.sqrt((index + 0.5) / self.grids)
        angle = index * 2.399963
        return self.spec.lat + radius * math.cos(angle), self.spec.lon + radius * math.sin(angle)


def plan_villages(households: int) -> list[Village]:
    """Households split over the villages by weight (largest remainder), grids by size."""
    specs = [(t, ti, v, vi) for ti, t in enumerate(TOWNSHIPS) for vi, v in enumerate(t.villages, 1)]
    weights = [v.weight for _, _, v, _ in specs]
    exact = [households * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(specs)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: households - sum(counts)]:
        counts[i] += 1
    return [
        Village(
            township=t,
            township_index=ti,
            spec=v,
            code=f"T{ti + 1:02d}V{vi:02d}",
            households=n,
            grids=max(1, int(n / GRID_TARGET + 0.5)),
        )
        for (t, ti, v, vi), n in zip(specs, counts, strict=True)
    ]


def township_code(index: int) -> str:
    return f"T{index + 1:02d}"


class Layout:
    """Ids for every zone, worker, group and speaker; their rows, parents first."""

    def __init__(self, villages: list[Village], base: dict[str, int], seed: int) -> None:
        self.villages, self.seed = villages, seed
        self.base = base
        self.district_id = base["zones"] + 1
        self.township_ids = [self.district_id + 1 + i for i in range(len(TOWNSHIPS))]
        next_id = self.district_id + 1 + len(TOWNSHIPS)
        for v in villages:
            v.zone_id, next_id = next_id, next_id + 1
        self.hazard_ids = {h.code: next_id + i for i, h in enumerate(HAZARDS)}
        next_id += len(HAZARDS)
        for v in villages:
            v.first_grid_id, next_id = next_id, next_id + v.grids
        self.zone_count = next_id - self.district_id
        self.grid_count = sum(v.grids for v in villages)
        self.width = max(3, len(str(max(v.grids for v in villages))))
        worker_id = base["workers"] + 1
        for v in villages:
            v.first_worker_id, worker_id = worker_id, worker_id + 2 + v.grids
        self.worker_count = worker_id - base["workers"] - 1
        if self.worker_count > WORKER_MOBILE_SPAN:
            raise ValueError("too many workers for the reserved worker block")
        self.group_count = sum(3 if self.has_qq(i) else 2 for i in range(len(villages)))
        group_id = base["groups"] + 1
        for i, v in enumerate(villages):
            v.wechat_group_id = group_id + 1
            group_id += 3 if self.has_qq(i) else 2
        self.loudspeaker_count = SPEAKERS_PER_VILLAGE * len(villages)
        self._cover_grids()

    @staticmethod
    def has_qq(index: int) -> bool:
        return (index + 1) % QQ_EVERY == 0

    def _cover_grids(self) -> None:
        by_code = {v.code: v for v in self.villages}
        cover: dict[str, list[list[int]]] = {
            v.code: [[] for _ in range(v.grids)] for v in self.villages
        }
        for hazard in HAZARDS:
            for code, start, stop in hazard.cover:
                grids = by_code[code].grids
                first = min(int(start * grids), grids - 1)
                for index in range(first, max(first + 1, int(stop * grids + 0.5))):
                    cover[code][index].append(self.hazard_ids[hazard.code])
        for v in self.villages:
            v.hazards = [tuple(ids) for ids in cover[v.code]]

    def zones(self) -> Iterator[tuple[Any, ...]]:
        """(id, code, name, kind, hazard_type, parent_id, path, risk, region_code)."""
        d = self.district_id
        root = f"/{d}/"
        yield (d, DISTRICT_CODE, DISTRICT_NAME, "district", None, None, root, 0,
               DISTRICT_REGION_CODE)  # fmt: skip
        for i, (t, tid) in enumerate(zip(TOWNSHIPS, self.township_ids, strict=True)):
            yield (tid, township_code(i), t.name, "township", None, d, f"{root}{tid}/", 0,
                   DISTRICT_REGION_CODE + t.suffix)  # fmt: skip
        for v in self.villages:
            tid = self.township_ids[v.township_index]
            yield (v.zone_id, v.code, v.spec.name, "village", None, tid,
                   f"{root}{tid}/{v.zone_id}/", 0, v.region_code)  # fmt: skip
        for h in HAZARDS:
            hid = self.hazard_ids[h.code]
            yield (hid, h.code, h.name, "hazard", h.hazard_type.value, d, f"{root}{hid}/",
                   h.risk, None)  # fmt: skip
        for v in self.villages:
            path = f"{root}{self.township_ids[v.township_index]}/{v.zone_id}/"
            for i in range(v.grids):
                gid = v.first_grid_id + i
                yield (gid, f"{v.code}G{i + 1:0{self.width}d}", f"{v.spec.name}第{i + 1}网格",
                       "grid", None, v.zone_id, f"{path}{gid}/", 0, None)  # fmt: skip

    def workers(self) -> Iterator[tuple[Any, ...]]:
        """(id, name, phone, role, active): lead, operator, then field workers."""
        rng = random.Random(f"{self.seed}/workers")
        for v in self.villages:
            roles = ["lead", "operator"] + ["field"] * v.grids
            for offset, role in enumerate(roles):
                wid = v.first_worker_id + offset
                phone = f"+86{WORKER_MOBILE_BASE + wid - self.base['workers'] - 1}"
                yield (wid, person_name(rng), phone, role, True)

    def worker_zones(self) -> Iterator[tuple[int, int]]:
        for v in self.villages:
            yield v.first_worker_id, v.zone_id
            yield v.first_worker_id + 1, v.zone_id
            for i in range(v.grids):
                yield v.first_worker_id + 2 + i, v.first_grid_id + i

    def groups(self) -> Iterator[tuple[Any, ...]]:
        """(id, code, name, kind, zone_id, owner, webhook_key, member_count)."""
        rng = random.Random(f"{self.seed}/groups")
        for i, v in enumerate(self.villages):
            name, lead = v.spec.name, v.first_worker_id
            key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            staff = min(500, v.grids + 2 + rng.randint(3, 12))
            yield (v.wechat_group_id - 1, f"{v.code}-WECOM", f"{name}防汛工作群", "wecom",
                   v.zone_id, lead, key, staff)  # fmt: skip
            residents = min(500, int(v.households * rng.uniform(0.9, 1.3)) + 1)
            yield (v.wechat_group_id, f"{v.code}-WECHAT", f"{name}居民群", "wechat",
                   v.zone_id, lead, None, residents)  # fmt: skip
            if self.has_qq(i):
                qq = min(500, int(v.households * rng.uniform(0.15, 0.35)) + 3)
                yield (v.wechat_group_id + 1, f"{v.code}-QQ", f"{name}防汛QQ群", "qq",
                       v.zone_id, lead, None, qq)  # fmt: skip

    def loudspeakers(self) -> Iterator[tuple[Any, ...]]:
        """(id, code, name, zone_id, operator, lat, lon): two per village."""
        speaker_id = self.base["loudspeakers"]
        for v in self.villages:
            for k in range(1, SPEAKERS_PER_VILLAGE + 1):
                speaker_id += 1
                lat = round(v.spec.lat + 0.003 * (k - 1.5), 6)
                lon = round(v.spec.lon - 0.002 * (k - 1.5), 6)
                yield (speaker_id, f"{v.code}-LS{k}", f"{v.spec.name}{k}号喇叭", v.zone_id,
                       v.first_worker_id + 1, lat, lon)  # fmt: skip


def person_name(rng: random.Random, surname: str | None = None) -> str:
    """A fictional name: a common surname and one or two given-name characters."""
    rnd = rng.random
    surname = surname or SURNAMES[int(rnd() * len(SURNAMES))]
    first = GIVEN_CHARS[int(rnd() * len(GIVEN_CHARS))]
    return surname + first + ("" if rnd() < 0.3 else GIVEN_CHARS[int(rnd() * len(GIVEN_CHARS))])
