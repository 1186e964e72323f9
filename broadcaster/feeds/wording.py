"""The text of a threshold alert, from config/templates/<language>/reading_*.txt.j2."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from broadcaster.alerts.clock import DEFAULT_ZONE, spoken
from broadcaster.feeds.rules import KINDS, SensorRule, Threshold

UNIT_NAMES = {"zh-CN": {"mm": "毫米", "m": "米", "index": ""}, "en": {"index": ""}}
LABELS_EN = {"警戒水位": "warning level", "保证水位": "guarantee level"}


@dataclass(frozen=True)
class Wording:
    headline: str
    body: str
    instruction: str


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text messages, never HTML  # noqa: S701
    )


@lru_cache(maxsize=4)
def _level_names(templates_dir: Path) -> dict[str, dict[str, str]]:
    with (templates_dir / "names.toml").open("rb") as handle:
        names = tomllib.load(handle)
    return {language: dict(table["level"]) for language, table in names.items()}


def number(value: float) -> str:
    """Up to two decimals, no trailing zeros: 183.50 → 183.5."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def moment(value: dt.datetime, language: str, zone: dt.tzinfo | None = None) -> str:
    """The observation time in the district's zone, whatever offset the reading carried:
    6月14日10时05分 / 14 Jun 10:05."""
    return spoken(value, zone or DEFAULT_ZONE, language)


def reading_wording(
    rule: SensorRule,
    threshold: Threshold,
    value: float,
    observed_at: dt.datetime,
    *,
    templates_dir: Path,
    language: str,
    zone: dt.tzinfo | None = None,
) -> Wording:
    """Headline, body and instruction of the alert a reading raises (Chinese by default)."""
    language = language if language in ("zh-CN", "en") else "zh-CN"
    unit = rule.unit
    context = {
        "station": rule.station,
        "station_name": rule.name,
        "kind_name": KINDS[rule.kind].names[language],
        "hazard": rule.hazard.value,
        "direction": rule.direction,
        "value": number(value),
        "threshold": number(threshold.value),
        "unit_name": UNIT_NAMES.get(language, {}).get(unit, unit),
        "level_name": _level_names(templates_dir)[language][threshold.level.value],
        "label": threshold.label,
        "label_en": LABELS_EN.get(threshold.label, threshold.label),
        "observed": moment(observed_at, language, zone),
    }
    env = _environment(templates_dir)

    def render(part: str) -> str:
        text = env.get_template(f"{language}/reading_{part}.txt.j2").render(**context)
        return " ".join(text.split())

    return Wording(render("headline"), render("body"), render("instruction"))
