"""Mapping CAP onto our terms: which info, which colour, which hazard, where, what kind."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from broadcaster.alerts.models import AlertStatus, Hazard, Level, MsgType
from broadcaster.feeds.cap import (
    CapError,
    CapInvalid,
    MappingRules,
    area_of,
    choose_info,
    hazard_of,
    level_of,
    msg_type_of,
    parse_alert,
    parse_gbt_identifier,
    status_of,
    to_feed_alert,
)
from broadcaster.feeds.cap.identifiers import BEIJING, format_gbt_identifier
from broadcaster.feeds.cap.model import (
    Alert,
    CapMsgType,
    CapStatus,
    Category,
    Info,
    Scope,
    Severity,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cap"


def load(name: str) -> Alert:
    return parse_alert((FIXTURES / name).read_bytes())


def with_info(alert: Alert, **changes: object) -> Info:
    return dataclasses.replace(alert.infos[0], **changes)  # type: ignore[arg-type]


MINIMAL = load("minimal.xml")


def test_chinese_rainstorm_red_maps_to_red_rain_and_its_geocodes() -> None:
    feed = to_feed_alert(load("yubei_rainstorm_red.xml"))
    assert feed.status is AlertStatus.actual
    assert feed.msg_type is MsgType.alert
    assert not feed.is_drill
    content = feed.content
    assert content is not None
    assert content.info_index == 1  # zh-CN chosen although en-US comes first
    assert (content.language, content.level, content.hazard) == ("zh-CN", Level.red, Hazard.rain)
    assert content.event == "暴雨红色预警"
    assert content.headline == "渝北区气象台发布暴雨红色预警信号"
    assert content.instruction.startswith("低洼地带")
    assert content.expires == dt.datetime(2020, 6, 15, 10, 44, 13, tzinfo=BEIJING)
    assert content.area.geocodes == [("GB/T 2260", "500112"), ("GB/T 2260", "500105")]
    assert content.area.descriptions == ["渝北区", "江北区鱼嘴镇沿江低洼地带"]
    assert content.area.polygons == [
        [(29.70, 106.75), (29.70, 106.90), (29.80, 106.90), (29.80, 106.75), (29.70, 106.75)]
    ]
    assert content.area.circles == [(29.75, 106.82, 2.5)]
    national = feed.national_id
    assert national is not None
    assert (national.region_code, national.org_code, national.sequence) == ("500112", "416", 0)


@pytest.mark.parametrize(
    ("name", "level", "msg_type"),
    [
        ("spec_homeland_security.xml", Level.orange, MsgType.alert),  # "Code ORANGE", Severe
        ("spec_severe_thunderstorm.xml", Level.orange, MsgType.alert),  # Severe
        ("spec_earthquake_update.xml", Level.blue, MsgType.update),  # Minor
        ("spec_amber_multilingual.xml", Level.orange, MsgType.alert),  # Severe
    ],
)
def test_spec_examples_are_taken_in(name: str, level: Level, msg_type: MsgType) -> None:
    feed = to_feed_alert(load(name))
    assert feed.status is AlertStatus.actual
    assert feed.msg_type is msg_type
    assert feed.content is not None
    assert feed.content.level is level
    assert feed.content.hazard is Hazard.other
    assert feed.national_id is None


def test_earthquake_update_carries_its_reference() -> None:
    feed = to_feed_alert(load("spec_earthquake_update.xml"))
    assert [(r.sender, r.identifier) for r in feed.references] == [
        ("trinet@caltech.edu", "TRI13970876.1")
    ]
    assert feed.content is not None
    assert feed.content.area.circles == [(32.9525, -115.5527, 0.0)]


def test_amber_multilingual_without_chinese_falls_back_to_the_first_info() -> None:
    alert = load("spec_amber_multilingual.xml")
    assert choose_info(alert).language == "en-US"
    assert choose_info(alert, preferred=("es-US",)).event == "Abducción de Niño"


def test_choose_info_prefers_zh_cn_then_zh_then_any_zh() -> None:
    base = MINIMAL.infos[0]
    infos = tuple(
        dataclasses.replace(base, language=lang, event=lang) for lang in ("en-US", "zh-TW", "zh")
    )
    alert = dataclasses.replace(MINIMAL, infos=infos)
    assert choose_info(alert).event == "zh"
    alert = dataclasses.replace(MINIMAL, infos=infos[:2])
    assert choose_info(alert).event == "zh-TW"
    alert = dataclasses.replace(
        MINIMAL, infos=(*infos, dataclasses.replace(base, language="ZH-cn"))
    )
    assert choose_info(alert).language == "ZH-cn"


def test_choose_info_without_info_is_a_cap_error() -> None:
    with pytest.raises(CapError) as caught:
        choose_info(dataclasses.replace(MINIMAL, infos=()))
    assert caught.value.path == "alert/info"


@pytest.mark.parametrize(
    ("event", "headline", "severity", "level"),
    [
        ("暴雨红色预警", None, Severity.minor, Level.red),  # colour beats severity
        ("暴雨预警", "发布暴雨橙色预警信号", Severity.minor, Level.orange),
        ("暴雨蓝色预警", "升级为红色预警", Severity.minor, Level.blue),  # event wins over headline
        ("暴雨黄色预警升级为红色预警", None, Severity.minor, Level.red),  # highest named
        ("Rainstorm Yellow Warning", None, Severity.extreme, Level.yellow),
        ("Flood", "Code RED issued", Severity.minor, Level.red),
        ("Red River Flood Warning", None, Severity.moderate, Level.yellow),  # a river, not a level
        ("暴雨预警", "[II级/严重]", Severity.minor, Level.orange),
        ("Flash flood", "updates warning [Level IV/General]", Severity.extreme, Level.blue),
        ("暴雨预警", None, Severity.minor, Level.blue),
        ("暴雨预警", None, Severity.moderate, Level.yellow),
        ("暴雨预警", None, Severity.severe, Level.orange),
        ("暴雨预警", None, Severity.extreme, Level.red),
    ],
)
def test_level_of(event: str, headline: str | None, severity: Severity, level: Level) -> None:
    info = with_info(MINIMAL, event=event, headline=headline, severity=severity)
    assert level_of(info) is level


def test_level_of_uses_a_configured_severity_map_and_refuses_unknown() -> None:
    info = with_info(MINIMAL, event="暴雨预警", headline=None, severity=Severity.unknown)
    with pytest.raises(CapError):
        level_of(info)
    assert level_of(info, {Severity.unknown: Level.yellow}) is Level.yellow
    severe = dataclasses.replace(info, severity=Severity.severe)
    assert level_of(severe, {Severity.severe: Level.red}) is Level.red


@pytest.mark.parametrize(
    ("event", "hazard"),
    [
        ("暴雨红色预警", Hazard.rain),
        ("强降雨", Hazard.rain),
        ("Heavy Rain Warning", Hazard.rain),
        ("嘉陵江水位超警戒", Hazard.water_level),
        ("洪水蓝色预警", Hazard.flood),
        ("山洪灾害气象预警", Hazard.flood),
        ("Flash Flood Warning", Hazard.flood),
        ("干旱橙色预警", Hazard.drought),
        ("Drought", Hazard.drought),
        ("地质灾害气象风险预警", Hazard.geohazard),
        ("降雨引发滑坡", Hazard.geohazard),
        ("Landslide", Hazard.geohazard),
        ("高温橙色预警", Hazard.other),
        ("Mountain terrain closure", Hazard.other),
    ],
)
def test_hazard_of_event_text(event: str, hazard: Hazard) -> None:
    assert hazard_of(with_info(MINIMAL, event=event, headline=None)) is hazard


def test_hazard_keywords_and_categories_are_configurable() -> None:
    info = with_info(MINIMAL, event="雷电预警", headline=None, categories=(Category.met,))
    assert hazard_of(info) is Hazard.other
    assert hazard_of(info, [(Hazard.rain, ("雷电",))]) is Hazard.rain
    assert hazard_of(info, categories={Category.met: Hazard.rain}) is Hazard.rain
    headline = dataclasses.replace(info, headline="伴有强降雨")
    assert hazard_of(headline) is Hazard.rain  # the headline is read after the event


def test_area_of_unions_every_area() -> None:
    info = load("yubei_rainstorm_red.xml").infos[1]
    spec = area_of(info)
    assert len(spec.descriptions) == 2
    assert not spec.is_empty
    assert area_of(dataclasses.replace(info, areas=())).is_empty


@pytest.mark.parametrize(
    ("cap", "ours"),
    [
        (CapStatus.actual, AlertStatus.actual),
        (CapStatus.exercise, AlertStatus.exercise),
        (CapStatus.test, AlertStatus.test),
    ],
)
def test_status_mapping(cap: CapStatus, ours: AlertStatus) -> None:
    alert = dataclasses.replace(MINIMAL, status=cap)
    assert status_of(alert) is ours
    assert to_feed_alert(alert).is_drill is (cap is not CapStatus.actual)


@pytest.mark.parametrize("cap", [CapStatus.system, CapStatus.draft])
def test_system_and_draft_are_not_for_broadcast(cap: CapStatus) -> None:
    with pytest.raises(CapError) as caught:
        status_of(dataclasses.replace(MINIMAL, status=cap))
    assert caught.value.path == "alert/status"
    assert "not for broadcast" in caught.value.reason


@pytest.mark.parametrize("cap", [CapMsgType.ack, CapMsgType.error])
def test_ack_and_error_are_not_for_broadcast(cap: CapMsgType) -> None:
    with pytest.raises(CapError) as caught:
        msg_type_of(dataclasses.replace(MINIMAL, msg_type=cap))
    assert caught.value.path == "alert/msgType"


def test_update_and_cancel_need_references() -> None:
    update = dataclasses.replace(MINIMAL, msg_type=CapMsgType.update)
    with pytest.raises(CapError) as caught:
        msg_type_of(update)
    assert caught.value.path == "alert/references"
    referenced = load("spec_earthquake_update.xml").references
    cancel = dataclasses.replace(
        MINIMAL, msg_type=CapMsgType.cancel, references=referenced, infos=()
    )
    feed = to_feed_alert(cancel)
    assert feed.msg_type is MsgType.cancel
    assert feed.content is None  # a Cancel may come without info


def test_every_mapping_problem_is_reported_together() -> None:
    bad = dataclasses.replace(
        MINIMAL, status=CapStatus.draft, scope=Scope.restricted, restriction="officials", infos=()
    )
    with pytest.raises(CapInvalid) as caught:
        to_feed_alert(bad)
    assert [p.path for p in caught.value.problems] == ["alert/status", "alert/scope", "alert/info"]


def test_scopes_are_configurable() -> None:
    restricted = dataclasses.replace(MINIMAL, scope=Scope.restricted, restriction="officials")
    rules = MappingRules(scopes=frozenset({Scope.public, Scope.restricted}))
    assert to_feed_alert(restricted, rules).content is not None


def test_unmapped_severity_is_reported_at_the_chosen_info() -> None:
    info = with_info(MINIMAL, event="暴雨预警", headline=None, severity=Severity.unknown)
    other = dataclasses.replace(info, language="en-US")
    alert = dataclasses.replace(MINIMAL, infos=(other, info))
    with pytest.raises(CapInvalid) as caught:
        to_feed_alert(alert)
    assert [p.path for p in caught.value.problems] == ["alert/info[1]/severity"]


@pytest.mark.parametrize(
    ("identifier", "sequence"),
    [("50011241600000_20200614104413_3", 3), ("43010041600000_20180530101833", None)],
)
def test_national_identifiers_are_recognised(identifier: str, sequence: int | None) -> None:
    parsed = parse_gbt_identifier(identifier)
    assert parsed is not None
    assert parsed.sequence == sequence
    assert parsed.org_code == "416"
    assert parsed.entered_at.utcoffset() == dt.timedelta(hours=8)
    assert format_gbt_identifier(parsed.sender_code, parsed.entered_at, sequence) == identifier


@pytest.mark.parametrize(
    "identifier",
    ["43b080713727", "50011241600000_20201399104413_0", "5001124160000_20200614104413", ""],
)
def test_other_identifiers_are_accepted_but_not_recognised(identifier: str) -> None:
    assert parse_gbt_identifier(identifier) is None
