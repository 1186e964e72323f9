"""Threshold rules from config/rules.toml: stations, per-level thresholds, zones, CAP mapping."""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from broadcaster.alerts.models import Hazard, Level
from broadcaster.errors import BroadcasterError
from broadcaster.feeds.cap import DEFAULT_HAZARD_KEYWORDS, DEFAULT_SEVERITY_LEVELS, MappingRules
from broadcaster.feeds.cap.mapping import HazardKeywords
from broadcaster.feeds.cap.model import Category, Severity

Direction = Literal["above", "below"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


@dataclass(frozen=True)
class Kind:
    """A kind of reading: its unit, hazard, plausible values and names for texts."""

    unit: str
    hazard: Hazard
    plausible: tuple[float, float]
    hysteresis: float
    names: Mapping[str, str]


KINDS: dict[str, Kind] = {
    "rainfall_1h": Kind(
        "mm", Hazard.rain, (0.0, 400.0), 5.0, {"zh-CN": "1小时降雨量", "en": "1-hour rainfall"}
    ),
    "rainfall_24h": Kind(
        "mm", Hazard.rain, (0.0, 2000.0), 10.0, {"zh-CN": "24小时降雨量", "en": "24-hour rainfall"}
    ),
    "water_level": Kind(
        "m", Hazard.water_level, (-100.0, 9000.0), 0.2, {"zh-CN": "水位", "en": "water level"}
    ),
    "drought_index": Kind(
        "index",
        Hazard.drought,
        (-10.0, 10.0),
        0.2,
        {"zh-CN": "气象干旱指数", "en": "drought index"},
    ),
}
LABELS = {"warning_level": "警戒水位", "guarantee_level": "保证水位"}
RULE_KEYS = frozenset(
    {"thresholds", "direction", "hysteresis", "cooldown", "expires", "plausible", "unit"}
    | {"warning_level", "guarantee_level", "warning_colour", "guarantee_colour"}
)


class RulesInvalid(BroadcasterError):
    """config/rules.toml cannot be used; the reason names the key."""

    status_code = 503
    code = "rules_invalid"


@dataclass(frozen=True)
class Threshold:
    level: Level
    value: float
    label: str = ""  # e.g. 警戒水位 (warning level), 保证水位 (guarantee level)


@dataclass(frozen=True)
class SensorRule:
    """One kind of reading at one station: when it warns, whom, and how it calms down."""

    station: str
    name: str
    kind: str
    unit: str
    zones: tuple[str, ...]
    thresholds: tuple[Threshold, ...]  # lowest level first
    direction: Direction = "above"
    hysteresis: float = 0.0
    cooldown: dt.timedelta = dt.timedelta(minutes=30)
    expires: dt.timedelta = dt.timedelta(hours=12)
    plausible: tuple[float, float] = (-math.inf, math.inf)

    @property
    def hazard(self) -> Hazard:
        return KINDS[self.kind].hazard

    def beyond(self, value: float, limit: float) -> bool:
        """Is `value` at or past `limit` in the rule's bad direction?"""
        return value >= limit if self.direction == "above" else value <= limit


@dataclass(frozen=True)
class Rules:
    sensors: dict[tuple[str, str], SensorRule] = field(default_factory=dict)
    cap: MappingRules = field(default_factory=MappingRules)

    @property
    def stations(self) -> set[str]:
        return {station for station, _ in self.sensors}


def duration(value: Any, key: str) -> dt.timedelta:
    """Seconds, or text like "90s", "30m", "12h", "1d"."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return dt.timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if not match:
        raise RulesInvalid(f"rules.toml {key}: 无效时长 / bad duration {value!r}", field=key)
    return dt.timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def load_rules(config_dir: Path) -> Rules:
    """The rules in config_dir/rules.toml (none when the file is absent)."""
    path = config_dir / "rules.toml"
    if not path.is_file():
        return Rules()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise RulesInvalid(f"rules.toml: {exc}", field="rules.toml") from exc
    return parse_rules(data)


def parse_rules(data: Mapping[str, Any]) -> Rules:
    defaults = dict(data.get("defaults", {}))
    sensors: dict[tuple[str, str], SensorRule] = {}
    for station, spec in dict(data.get("stations", {})).items():
        key = f"stations.{station}"
        if not isinstance(spec, dict):
            raise RulesInvalid(f"rules.toml {key}: 应为表 / must be a table", field=key)
        zones = tuple(str(z) for z in spec.get("zones", ()))
        if not zones:
            raise RulesInvalid(f"rules.toml {key}.zones: 至少一个区域 / needs zones", field=key)
        kinds = [k for k in spec if k in KINDS]
        unknown = set(spec) - set(KINDS) - {"name", "zones"}
        if unknown or not kinds:
            raise RulesInvalid(
                f"rules.toml {key}: 未知或缺少读数类型 / unknown keys or no reading kinds: "
                f"{', '.join(sorted(unknown)) or '-'} (kinds: {', '.join(KINDS)})",
                field=key,
            )
        name = str(spec.get("name", station))
        for kind in kinds:
            sensors[(station, kind)] = _sensor(station, name, kind, zones, spec[kind], defaults)
    return Rules(sensors, _cap_rules(dict(data.get("cap", {}))))


def _sensor(
    station: str,
    name: str,
    kind: str,
    zones: tuple[str, ...],
    spec: dict[str, Any],
    defaults: dict[str, Any],
) -> SensorRule:
    key = f"stations.{station}.{kind}"
    info = KINDS[kind]
    unknown = set(spec) - RULE_KEYS
    if unknown:
        raise RulesInvalid(
            f"rules.toml {key}: 未知键 / unknown keys: {', '.join(sorted(unknown))}", field=key
        )
    direction = spec.get("direction", "above")
    if direction not in ("above", "below"):
        raise RulesInvalid(f"rules.toml {key}.direction: above | below", field=key)
    thresholds = [
        Threshold(_level(level, key), _number(value, f"{key}.thresholds.{level}"))
        for level, value in dict(spec.get("thresholds", {})).items()
    ]
    for alias, label in LABELS.items():  # a river gauge's warning and guarantee levels
        if alias in spec:
            level = _level(spec.get(alias.replace("_level", "_colour"), _alias_level(alias)), key)
            thresholds.append(Threshold(level, _number(spec[alias], f"{key}.{alias}"), label))
    if not thresholds:
        raise RulesInvalid(f"rules.toml {key}: 没有阈值 / no thresholds", field=key)
    thresholds.sort(key=lambda t: t.level.rank)
    if len({t.level for t in thresholds}) != len(thresholds):
        raise RulesInvalid(f"rules.toml {key}: 级别重复 / a level twice", field=key)
    values = [t.value for t in thresholds]
    ordered = values == sorted(values) if direction == "above" else values == sorted(values)[::-1]
    if not ordered or len(set(values)) != len(values):
        raise RulesInvalid(
            f"rules.toml {key}: 阈值须随级别{'升高' if direction == 'above' else '降低'} / "
            f"thresholds must {'rise' if direction == 'above' else 'fall'} with the level",
            field=key,
        )
    hysteresis = spec.get("hysteresis", dict(defaults.get("hysteresis", {})).get(kind))
    lo, hi = spec.get("plausible", info.plausible)
    return SensorRule(
        station=station,
        name=name,
        kind=kind,
        unit=str(spec.get("unit", info.unit)),
        zones=zones,
        thresholds=tuple(thresholds),
        direction=direction,
        hysteresis=abs(_number(info.hysteresis if hysteresis is None else hysteresis, key)),
        cooldown=duration(spec.get("cooldown", defaults.get("cooldown", "30m")), key),
        expires=duration(spec.get("expires", defaults.get("expires", "12h")), key),
        plausible=(_number(lo, f"{key}.plausible"), _number(hi, f"{key}.plausible")),
    )


def _alias_level(alias: str) -> str:
    return "orange" if alias == "warning_level" else "red"


def _level(value: Any, key: str) -> Level:
    try:
        return Level(str(value))
    except ValueError as exc:
        raise RulesInvalid(
            f"rules.toml {key}: 未知级别 / unknown level {value!r} (blue, yellow, orange, red)",
            field=key,
        ) from exc


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RulesInvalid(f"rules.toml {key}: 应为数字 / must be a number", field=key)
    return float(value)


def _cap_rules(spec: dict[str, Any]) -> MappingRules:
    """[cap]: severity → level, hazard keywords (checked in order), category → hazard."""
    try:
        severity = {
            Severity(k): Level(v) for k, v in dict(spec.get("severity", {})).items()
        } or dict(DEFAULT_SEVERITY_LEVELS)
        keywords: HazardKeywords = [
            (Hazard(item["hazard"]), tuple(str(w) for w in item["keywords"]))
            for item in spec.get("hazards", [])
        ] or DEFAULT_HAZARD_KEYWORDS
        categories = {Category(k): Hazard(v) for k, v in dict(spec.get("categories", {})).items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise RulesInvalid(f"rules.toml [cap]: {exc}", field="cap") from exc
    return MappingRules(
        severity_levels=severity, hazard_keywords=keywords, hazard_categories=categories
    )
