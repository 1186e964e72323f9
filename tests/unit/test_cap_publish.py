"""CAP out and Atom: every published document reads back through our own parser and mapping."""

from __future__ import annotations

import dataclasses
import datetime as dt

import defusedxml.ElementTree as defused_et  # type: ignore[import-untyped]
import pytest

from broadcaster.alerts.models import AlertStatus, Hazard, Level, MsgType
from broadcaster.feeds.cap import (
    GB_T_2260,
    AtomEntry,
    CapInvalid,
    PublishedAlert,
    PublishedArea,
    event_name,
    parse_alert,
    to_atom,
    to_cap_xml,
    to_feed_alert,
)
from broadcaster.feeds.cap.model import CapMsgType, CapStatus, Category, Reference, Scope, Severity
from broadcaster.feeds.cap.publish import severity_for

BEIJING = dt.timezone(dt.timedelta(hours=8))
SENT = dt.datetime(2024, 7, 1, 8, 30, 15, 123456, tzinfo=BEIJING)
ATOM = "{http://www.w3.org/2005/Atom}"

BASE = PublishedAlert(
    identifier="50011241600000_20240701083015_0",
    sender="yubei-duty@example.cn",
    sent=SENT,
    hazard=Hazard.rain,
    level=Level.red,
    headline="渝北区发布暴雨红色预警",
    description="预计未来3小时内降雨量将达100毫米以上。",
    instruction="低洼地带人员立即转移。",
    sender_name="渝北区防汛抗旱指挥部",
    web="https://www.example.cn/alerts/1",
    expires=SENT + dt.timedelta(hours=12),
    areas=(
        PublishedArea(
            "龙兴镇、石船镇", geocodes=((GB_T_2260, "500112"), ("project-zone", "YB-LX-01"))
        ),
        PublishedArea(
            "沿江低洼地带",
            polygons=(((29.7, 106.75), (29.7, 106.9), (29.8, 106.9)),),
            circles=((29.75, 106.82, 2.5),),
        ),
    ),
)


def test_published_alert_round_trips_through_parser_validator_and_mapping() -> None:
    document = to_cap_xml(BASE)
    alert = parse_alert(document)
    assert (alert.identifier, alert.sender) == (BASE.identifier, BASE.sender)
    assert alert.sent == SENT.replace(microsecond=0)
    assert (alert.status, alert.msg_type, alert.scope) == (
        CapStatus.actual,
        CapMsgType.alert,
        Scope.public,
    )
    (info,) = alert.infos
    assert info.language == "zh-CN"
    assert info.categories == (Category.met,)
    assert info.event == "暴雨红色预警"
    assert info.severity is Severity.extreme
    assert info.sender_name == BASE.sender_name
    assert info.web == BASE.web
    feed = to_feed_alert(alert)
    assert feed.content is not None
    assert (feed.content.level, feed.content.hazard) == (Level.red, Hazard.rain)
    assert feed.content.headline == BASE.headline
    assert feed.content.body == BASE.description
    assert BASE.expires is not None
    assert feed.content.expires == BASE.expires.replace(microsecond=0)
    assert feed.content.area.geocodes == [(GB_T_2260, "500112"), ("project-zone", "YB-LX-01")]
    assert feed.content.area.polygons == [
        [(29.7, 106.75), (29.7, 106.9), (29.8, 106.9), (29.7, 106.75)]  # closed on the way out
    ]
    assert feed.content.area.circles == [(29.75, 106.82, 2.5)]
    assert feed.national_id is not None


@pytest.mark.parametrize("hazard", list(Hazard))
@pytest.mark.parametrize("level", list(Level))
def test_every_hazard_and_level_round_trips(hazard: Hazard, level: Level) -> None:
    published = dataclasses.replace(BASE, hazard=hazard, level=level, headline="预警")
    feed = to_feed_alert(parse_alert(to_cap_xml(published)))
    assert feed.content is not None
    assert feed.content.level is level
    assert feed.content.hazard is hazard
    assert feed.content.event == event_name(hazard, level)


def test_level_maps_back_to_the_cap_severity() -> None:
    assert [severity_for(level) for level in Level] == [
        Severity.minor,
        Severity.moderate,
        Severity.severe,
        Severity.extreme,
    ]
    custom = {Severity.unknown: Level.blue, Severity.minor: Level.blue, Severity.extreme: Level.red}
    assert severity_for(Level.blue, custom) is Severity.minor
    with pytest.raises(ValueError, match="orange"):
        severity_for(Level.orange, custom)


def test_utc_is_published_as_minus_zero() -> None:
    document = to_cap_xml(dataclasses.replace(BASE, sent=dt.datetime(2024, 7, 1, tzinfo=dt.UTC)))
    assert b"<sent>2024-07-01T00:00:00-00:00</sent>" in document


def test_an_update_publishes_its_references_and_a_drill_is_marked() -> None:
    original = Reference(BASE.sender, "ID-1", SENT.replace(microsecond=0))
    update = dataclasses.replace(
        BASE,
        identifier="ID-2",
        msg_type=MsgType.update,
        status=AlertStatus.exercise,
        references=(original,),
    )
    alert = parse_alert(to_cap_xml(update))
    assert alert.msg_type is CapMsgType.update
    assert alert.status is CapStatus.exercise
    assert alert.references == (original,)
    assert alert.note == "演练 / Exercise"
    assert alert.infos[0].headline == "【演练】" + BASE.headline
    feed = to_feed_alert(alert)
    assert feed.is_drill
    assert feed.msg_type is MsgType.update


def test_a_cancel_without_references_is_refused() -> None:
    with pytest.raises(ValueError, match="references"):
        to_cap_xml(dataclasses.replace(BASE, msg_type=MsgType.cancel))


@pytest.mark.parametrize(
    "change",
    [
        {"identifier": "has space"},
        {"sender": "a,b"},
        {"sent": dt.datetime(2024, 7, 1, 8, 0)},  # naive
    ],
)
def test_inputs_that_cannot_make_valid_cap_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # the reason differs per case
        to_cap_xml(dataclasses.replace(BASE, **change))  # type: ignore[arg-type]


def test_a_degenerate_polygon_fails_our_own_validation() -> None:
    area = PublishedArea("x", polygons=(((29.7, 106.75), (29.8, 106.9)),))
    with pytest.raises(CapInvalid) as caught:
        to_cap_xml(dataclasses.replace(BASE, areas=(area,)))
    assert caught.value.path == "alert/info[0]/area[0]/polygon[0]"


def test_atom_feed_links_each_cap_document() -> None:
    entries = [
        AtomEntry(
            title="暴雨红色预警",
            cap_url="https://www.example.cn/cap/ID-1.xml",
            updated=SENT,
            summary="渝北区发布暴雨红色预警",
            published=SENT,
        ),
        AtomEntry(
            title="暴雨橙色预警",
            cap_url="https://www.example.cn/cap/ID-2.xml",
            updated=SENT + dt.timedelta(hours=1),
            entry_id="urn:uuid:8b5c9f0e-6d1a-4b8e-9a51-2f6d3c1e7a10",
        ),
    ]
    document = to_atom(
        "渝北区预警",
        entries,
        feed_id="https://www.example.cn/cap/",
        self_url="https://www.example.cn/cap/feed",
    )
    feed = defused_et.fromstring(document, forbid_dtd=True)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "渝北区预警"
    assert feed.findtext(f"{ATOM}updated") == "2024-07-01T09:30:15+08:00"
    items = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in items] == [
        "https://www.example.cn/cap/ID-1.xml",
        "urn:uuid:8b5c9f0e-6d1a-4b8e-9a51-2f6d3c1e7a10",
    ]
    link = items[0].find(f"{ATOM}link")
    assert link is not None
    assert link.attrib == {
        "rel": "alternate",
        "type": "application/cap+xml",
        "href": "https://www.example.cn/cap/ID-1.xml",
    }
    assert items[0].findtext(f"{ATOM}summary") == "渝北区发布暴雨红色预警"


def test_an_empty_atom_feed_needs_an_updated_time() -> None:
    with pytest.raises(ValueError, match="updated"):
        to_atom("空", [], feed_id="urn:x")
    document = to_atom("空", [], feed_id="urn:x", updated=SENT)
    assert defused_et.fromstring(document).find(f"{ATOM}entry") is None
