"""CAP out: a valid CAP 1.2 document (zh-CN info, scope Public) for one of our alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree import ElementTree as ET  # building only; every parse goes through defusedxml

from broadcaster.alerts.models import AlertStatus, Hazard, Level, MsgType
from broadcaster.feeds.cap.mapping import DEFAULT_SEVERITY_LEVELS
from broadcaster.feeds.cap.model import (
    CAP_NS,
    CapMsgType,
    CapStatus,
    Category,
    Certainty,
    Reference,
    ResponseType,
    Scope,
    Severity,
    Urgency,
)
from broadcaster.feeds.cap.validate import validate_alert
from broadcaster.feeds.cap.values import check_id_text, format_datetime, format_reference

GB_T_2260 = "GB/T 2260"
LANGUAGE = "zh-CN"
HAZARD_NAMES = {
    Hazard.rain: "暴雨",
    Hazard.water_level: "水位",
    Hazard.flood: "洪水",
    Hazard.drought: "干旱",
    Hazard.geohazard: "地质灾害",
    Hazard.other: "灾害",
}
LEVEL_NAMES = {Level.blue: "蓝色", Level.yellow: "黄色", Level.orange: "橙色", Level.red: "红色"}
HAZARD_CATEGORIES = {
    Hazard.rain: Category.met,
    Hazard.water_level: Category.met,
    Hazard.flood: Category.met,  # CAP: "Met - Meteorological (inc. flood)"
    Hazard.drought: Category.met,
    Hazard.geohazard: Category.geo,  # CAP: "Geo - Geophysical (inc. landslide)"
    Hazard.other: Category.other,
}
_DRILL_MARKS = {
    AlertStatus.exercise: ("【演练】", "演练 / Exercise"),
    AlertStatus.test: ("【测试】", "测试 / Test"),
}


@dataclass(frozen=True)
class PublishedArea:
    """One area: zone names, geocodes (e.g. ("GB/T 2260", "500112")), lat/lon shapes."""

    area_desc: str
    geocodes: tuple[tuple[str, str], ...] = ()
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True)
class PublishedAlert:
    """What the service publishes about one alert; `event` defaults to e.g. "暴雨红色预警"."""

    identifier: str
    sender: str
    sent: dt.datetime
    hazard: Hazard
    level: Level
    headline: str
    description: str
    areas: tuple[PublishedArea, ...] = ()
    status: AlertStatus = AlertStatus.actual
    msg_type: MsgType = MsgType.alert
    references: tuple[Reference, ...] = ()
    instruction: str = ""
    sender_name: str = ""
    web: str | None = None
    expires: dt.datetime | None = None
    event: str | None = None
    urgency: Urgency = Urgency.expected
    certainty: Certainty = Certainty.likely
    response_types: tuple[ResponseType, ...] = ()


def event_name(hazard: Hazard, level: Level) -> str:
    """The Chinese event name with its colour, e.g. 暴雨红色预警."""
    return f"{HAZARD_NAMES[hazard]}{LEVEL_NAMES[level]}预警"


def severity_for(
    level: Level, severity_map: Mapping[Severity, Level] = DEFAULT_SEVERITY_LEVELS
) -> Severity:
    """The level → severity mapping, the reverse of the one used on the way in."""
    matches = [severity for severity, mapped in severity_map.items() if mapped is level]
    if not matches:
        raise ValueError(f"no CAP severity maps to level {level.value}")
    known = [severity for severity in matches if severity is not Severity.unknown] or matches
    return min(known, key=list(Severity).index)  # on a tie, the graver severity


def to_cap_xml(
    alert: PublishedAlert, severity_map: Mapping[Severity, Level] = DEFAULT_SEVERITY_LEVELS
) -> bytes:
    """The CAP 1.2 document (UTF-8 bytes); it is validated by our own validator before return.

    Raises ValueError for input that cannot make a valid document (naive date-times,
    spaces or commas in identifier/sender, an Update/Cancel without references), and
    CapInvalid if the document would still fail validation (e.g. a polygon of 2 points).
    """
    check_id_text(alert.identifier)
    check_id_text(alert.sender)
    if alert.msg_type is not MsgType.alert and not alert.references:
        raise ValueError(f"a {alert.msg_type.value} needs the references of what it replaces")
    root = ET.Element(_tag("alert"))
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", format_datetime(alert.sent))
    _add(root, "status", CapStatus(alert.status.value.capitalize()).value)
    _add(root, "msgType", CapMsgType(alert.msg_type.value.capitalize()).value)
    _add(root, "scope", Scope.public.value)
    mark = _DRILL_MARKS.get(alert.status)
    if mark is not None:
        _add(root, "note", mark[1])
    if alert.references:
        _add(root, "references", " ".join(format_reference(r) for r in alert.references))
    _add_info(root, alert, severity_for(alert.level, severity_map), mark[0] if mark else "")
    validate_alert(root)
    ET.indent(root)
    document: bytes = ET.tostring(
        root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS
    )
    return document


def _add_info(root: ET.Element, alert: PublishedAlert, severity: Severity, prefix: str) -> None:
    info = ET.SubElement(root, _tag("info"))
    _add(info, "language", LANGUAGE)
    _add(info, "category", HAZARD_CATEGORIES[alert.hazard].value)
    _add(info, "event", alert.event or event_name(alert.hazard, alert.level))
    for response in alert.response_types:
        _add(info, "responseType", response.value)
    _add(info, "urgency", alert.urgency.value)
    _add(info, "severity", severity.value)
    _add(info, "certainty", alert.certainty.value)
    if alert.expires is not None:
        _add(info, "expires", format_datetime(alert.expires))
    _add(info, "senderName", alert.sender_name)
    headline = alert.headline if alert.headline.startswith(prefix) else prefix + alert.headline
    _add(info, "headline", headline)
    _add(info, "description", alert.description)
    _add(info, "instruction", alert.instruction)
    _add(info, "web", alert.web or "")
    for area in alert.areas:
        _add_area(info, area)


def _add_area(info: ET.Element, area: PublishedArea) -> None:
    element = ET.SubElement(info, _tag("area"))
    _add(element, "areaDesc", area.area_desc)
    for polygon in area.polygons:
        ring = list(polygon)
        if ring and ring[0] != ring[-1]:
            ring.append(ring[0])
        _add(element, "polygon", " ".join(f"{_num(lat)},{_num(lon)}" for lat, lon in ring))
    for lat, lon, radius in area.circles:
        _add(element, "circle", f"{_num(lat)},{_num(lon)} {_num(radius)}")
    for value_name, value in area.geocodes:
        geocode = ET.SubElement(element, _tag("geocode"))
        _add(geocode, "valueName", value_name)
        _add(geocode, "value", value)


def _tag(name: str) -> str:
    return f"{{{CAP_NS}}}{name}"


def _add(parent: ET.Element, name: str, text: str) -> None:
    """A child with text; empty optional texts are left out."""
    if text:
        ET.SubElement(parent, _tag(name)).text = text


def _num(value: float) -> str:
    """Up to 6 decimals (about 0.1 m), without exponent or trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
