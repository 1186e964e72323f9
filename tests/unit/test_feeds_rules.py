"""Threshold rules: loading config/rules.toml, the hysteresis state machine, alert wording."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest

from broadcaster.alerts.models import Hazard, Level
from broadcaster.feeds.cap.model import Severity
from broadcaster.feeds.rules import RulesInvalid, load_rules, parse_rules
from broadcaster.feeds.thresholds import step
from broadcaster.feeds.wording import reading_wording
from broadcaster.flows.polling import cap_link, entry_key
from broadcaster.jobs import periodic_ticks
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings

TEMPLATES = PACKAGE_CONFIG_DIR / "templates"
GAUGE: dict[str, Any] = {
    "stations": {
        "G": {
            "name": "鱼嘴水文站",
            "zones": ["V1"],
            "water_level": {"warning_level": 180.0, "guarantee_level": 183.0, "hysteresis": 0.5},
        }
    }
}
BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_the_shipped_rules_load() -> None:
    rules = load_rules(PACKAGE_CONFIG_DIR)
    assert ("DEMO-SW-01", "water_level") in rules.sensors
    gauge = rules.sensors[("DEMO-SW-01", "water_level")]
    assert [(t.level, t.label) for t in gauge.thresholds] == [
        (Level.orange, "警戒水位"),
        (Level.red, "保证水位"),
    ]
    assert gauge.cooldown == dt.timedelta(hours=1)
    drought = rules.sensors[("DEMO-QX-01", "drought_index")]
    assert (drought.direction, drought.unit, drought.hazard) == ("below", "MCI", Hazard.drought)
    assert rules.cap.severity_levels[Severity.extreme] is Level.red


def test_no_rules_file_means_no_stations(tmp_path: Path) -> None:
    assert load_rules(tmp_path).sensors == {}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"thresholds": {"yellow": 181.0}}, "rise with the level"),
        ({"thresholds": {"orange": 170.0}}, "a level twice"),
        ({"thresholds": {"purple": 170.0}}, "unknown level"),
        ({"thresholds": {"orange": "high"}}, "must be a number"),
        ({"cooldown": "soon"}, "bad duration"),
        ({"direction": "sideways"}, "above | below"),
        ({"colour": "red"}, "unknown keys: colour"),
    ],
)
def test_bad_rules_name_their_key(change: dict[str, Any], words: str) -> None:
    rule = {**GAUGE["stations"]["G"]["water_level"], **change}
    data = {"stations": {"G": {**GAUGE["stations"]["G"], "water_level": rule}}}
    with pytest.raises(RulesInvalid) as caught:
        parse_rules(data)
    assert words in caught.value.message
    assert caught.value.detail["field"].startswith("stations.G.water_level")


def test_a_station_needs_zones_and_known_kinds() -> None:
    with pytest.raises(RulesInvalid, match="needs zones"):
        parse_rules({"stations": {"G": {"water_level": {"thresholds": {"red": 1.0}}}}})
    with pytest.raises(RulesInvalid, match="snowfall"):
        parse_rules({"stations": {"G": {"zones": ["V1"], "snowfall": {}}}})


def run(values: list[float], data: dict[str, Any] = GAUGE) -> list[tuple[str | None, bool]]:
    rule = next(iter(parse_rules(data).sensors.values()))
    level: Level | None = None
    seen = []
    for value in values:
        result = step(rule, level, value)
        level = result.level
        seen.append((level.value if level else None, result.rose))
    return seen


def test_rising_through_warning_then_guarantee_rises_twice() -> None:
    assert run([179.0, 180.0, 181.0, 183.2]) == [
        (None, False),
        ("orange", True),
        ("orange", False),
        ("red", True),
    ]


def test_inside_the_hysteresis_band_nothing_rises_again() -> None:
    assert run([183.1, 182.6, 183.4, 182.6, 183.0]) == [
        ("red", True),
        ("red", False),
        ("red", False),
        ("red", False),
        ("red", False),
    ]


def test_below_the_band_the_level_re_arms() -> None:
    assert run([183.1, 182.4, 183.0]) == [("red", True), ("orange", False), ("red", True)]
    assert run([183.1, 170.0, 180.0]) == [("red", True), (None, False), ("orange", True)]


def test_a_falling_index_warns_below_its_thresholds() -> None:
    drought = {
        "stations": {
            "Q": {
                "zones": ["V1"],
                "drought_index": {
                    "direction": "below",
                    "thresholds": {"yellow": -1.5, "red": -2.5},
                    "hysteresis": 0.2,
                },
            }
        }
    }
    assert run([-1.0, -1.6, -1.4, -1.2, -1.6, -2.6], drought) == [
        (None, False),
        ("yellow", True),
        ("yellow", False),  # within -1.5 + 0.2
        (None, False),  # re-armed
        ("yellow", True),
        ("red", True),
    ]


def test_the_alert_text_is_chinese_first_and_names_the_guarantee_level() -> None:
    rule = next(iter(parse_rules(GAUGE).sensors.values()))
    observed = dt.datetime(2024, 7, 1, 10, 5, tzinfo=BEIJING)
    words = reading_wording(
        rule, rule.thresholds[1], 183.25, observed, templates_dir=TEMPLATES, language="zh-CN"
    )
    assert words.headline == "鱼嘴水文站水位超保证水位"
    assert words.body == "7月1日10时05分，鱼嘴水文站（G）监测水位183.25米，超过保证水位183米。"
    assert words.instruction.startswith("沿河低洼地带人员")
    english = reading_wording(
        rule, rule.thresholds[0], 180.5, observed, templates_dir=TEMPLATES, language="en"
    )
    assert english.headline == "Water level at 鱼嘴水文站 above the warning level"
    assert "(UTC+08:00)" in english.body


def test_a_reading_stamped_in_utc_is_worded_in_the_district_time_zone() -> None:
    """A reading at 18:11:55Z is 02:11 the next day in Beijing (issue 15): every text a person
    reads is in the district's zone, whatever zone the reading was stamped in."""
    rule = next(iter(parse_rules(GAUGE).sensors.values()))
    observed = dt.datetime(2024, 12, 3, 18, 11, 55, tzinfo=dt.UTC)
    words = reading_wording(
        rule, rule.thresholds[1], 183.25, observed, templates_dir=TEMPLATES, language="zh-CN"
    )
    assert words.body.startswith("12月4日02时11分，")
    english = reading_wording(
        rule, rule.thresholds[0], 180.5, observed, templates_dir=TEMPLATES, language="en"
    )
    assert "4 Dec 02:11 (UTC+08:00)" in english.body


def test_feed_entries_point_at_their_cap_documents() -> None:
    parsed = feedparser.parse(
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>e1</id>'
        b"<updated>2024-07-01T00:00:00Z</updated>"
        b'<link rel="alternate" type="text/html" href="/page"/>'
        b'<link rel="alternate" type="application/cap+xml" href="/cap/1.xml"/></entry>'
        b"<entry><id>e2</id><link href='https://x.example/a/2.xml?x=1'/></entry></feed>"
    )
    first, second = parsed.entries
    assert cap_link(first, "https://feeds.example/f.atom") == "https://feeds.example/cap/1.xml"
    assert cap_link(second, "https://feeds.example/f.atom") == "https://x.example/a/2.xml?x=1"
    assert entry_key(first) != entry_key({**first, "updated": "2024-07-02T00:00:00Z"})


def test_feed_polling_is_a_periodic_tick() -> None:
    ticks = {t.name: t for t in periodic_ticks(Settings(env="test"))}
    assert ticks["feeds"].func == "broadcaster.flows.polling.tick"
