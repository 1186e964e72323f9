"""Pure, configurable mapping of a CAP alert onto the service's terms: level, hazard, area."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from broadcaster.alerts.models import AlertStatus, Hazard, Level, MsgType
from broadcaster.feeds.cap.errors import CapError
from broadcaster.feeds.cap.model import Alert, CapMsgType, CapStatus, Category, Info, Severity

HazardKeywords = Sequence[tuple[Hazard, Sequence[str]]]

DEFAULT_SEVERITY_LEVELS: Mapping[Severity, Level] = MappingProxyType(
    {
        Severity.minor: Level.blue,
        Severity.moderate: Level.yellow,
        Severity.severe: Level.orange,
        Severity.extreme: Level.red,
    }
)
# Checked in this order, first match wins: the specific hazard before the rain that caused it
# ("暴雨诱发山洪" is a flood, "降雨引发滑坡" a geohazard).
DEFAULT_HAZARD_KEYWORDS: HazardKeywords = (
    (Hazard.geohazard, ("地质", "滑坡", "泥石流", "崩塌", "landslide", "mudslide", "debris flow")),
    (Hazard.drought, ("干旱", "旱情", "drought")),
    (Hazard.water_level, ("水位", "water level", "river stage")),
    (Hazard.flood, ("洪水", "山洪", "洪涝", "内涝", "flood")),
    (Hazard.rain, ("暴雨", "降雨", "大雨", "强降水", "rain", "precipitation")),
)
_ZH_COLOURS = {"蓝色": Level.blue, "黄色": Level.yellow, "橙色": Level.orange, "红色": Level.red}
# English colours only where they name a level, so "Red River Flood Warning" is not red.
_EN_COLOUR = re.compile(
    r"\b(?:(blue|yellow|orange|red)\s+(?:warning|alert|level|signal)"
    r"|code\s+(blue|yellow|orange|red))\b",
    re.IGNORECASE,
)
# China's four grades: I 特别严重 (red) … IV 一般 (blue), as in "[II级/严重]" or "[Level IV]".
_GRADE = re.compile(r"(?:(IV|III|II|I|Ⅳ|Ⅲ|Ⅱ|Ⅰ)\s*级|\bLevel\s+(IV|III|II|I)\b)")
_GRADES = {
    "I": Level.red,
    "Ⅰ": Level.red,
    "II": Level.orange,
    "Ⅱ": Level.orange,
    "III": Level.yellow,
    "Ⅲ": Level.yellow,
    "IV": Level.blue,
    "Ⅳ": Level.blue,
}
_STATUSES = {
    CapStatus.actual: AlertStatus.actual,
    CapStatus.exercise: AlertStatus.exercise,
    CapStatus.test: AlertStatus.test,
}
_MSG_TYPES = {
    CapMsgType.alert: MsgType.alert,
    CapMsgType.update: MsgType.update,
    CapMsgType.cancel: MsgType.cancel,
}


@dataclass(frozen=True)
class AreaSpec:
    """The union of an info block's areas, in plain values (lat/lon order as in CAP)."""

    descriptions: list[str] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    circles: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when nothing locates the alert (no geocode, polygon or circle)."""
        return not (self.geocodes or self.polygons or self.circles)


def choose_info(alert: Alert, preferred: Sequence[str] = ("zh-CN", "zh")) -> Info:
    """The info block to broadcast: preferred languages in order, then any zh-*, else the first."""
    return alert.infos[choose_info_index(alert, preferred)]


def choose_info_index(alert: Alert, preferred: Sequence[str] = ("zh-CN", "zh")) -> int:
    if not alert.infos:
        raise CapError("alert/info", "警报没有 info 块 / the alert has no <info> block")
    languages = [info.language.lower() for info in alert.infos]
    for wanted in preferred:
        if wanted.lower() in languages:
            return languages.index(wanted.lower())
    for index, language in enumerate(languages):
        if language.startswith("zh-"):
            return index
    return 0


def level_of(info: Info, severity_map: Mapping[Severity, Level] = DEFAULT_SEVERITY_LEVELS) -> Level:
    """The warning colour: named in event (else headline) wins, then a I-IV grade, then severity.

    When a text names several colours ("黄色预警升级为红色预警") the highest is taken.
    Raises CapError when none of these gives a level (e.g. severity Unknown, unmapped).
    """
    texts = [info.event, info.headline or ""]
    for text in texts:
        colours = colours_in(text)
        if colours:
            return max(colours, key=lambda level: level.rank)
    for text in texts:
        grades = [_GRADES[a or b] for a, b in _GRADE.findall(text)]
        if grades:
            return max(grades, key=lambda level: level.rank)
    level = severity_map.get(info.severity)
    if level is None:
        raise CapError(
            "alert/info/severity",
            f"无法确定预警级别：事件名无颜色且严重程度 {info.severity.value} 未映射 / "
            f"no warning level: no colour in the event and severity {info.severity.value} "
            "is not mapped",
        )
    return level


def colours_in(text: str) -> list[Level]:
    """Warning colours named in a text (Chinese colour words, English 'Red warning' forms)."""
    found = [level for word, level in _ZH_COLOURS.items() if word in text]
    for match in _EN_COLOUR.finditer(text):
        found.append(Level((match.group(1) or match.group(2)).lower()))
    return found


def hazard_of(
    info: Info,
    keywords: HazardKeywords = DEFAULT_HAZARD_KEYWORDS,
    categories: Mapping[Category, Hazard] | None = None,
) -> Hazard:
    """The hazard from keywords in the event (then the headline), then by category, else other.

    Keywords made of ASCII match at a word start, case-insensitively ("Flash Flood" → flood,
    "terrain" is not rain); others match anywhere. `categories` maps a CAP category to a
    hazard for feeds whose event names carry no keyword (none by default).
    """
    for text in (info.event, info.headline or ""):
        for hazard, words in keywords:
            if any(_mentions(text, word) for word in words):
                return hazard
    for category in info.categories:
        if categories and category in categories:
            return categories[category]
    return Hazard.other


def _mentions(text: str, word: str) -> bool:
    if word.isascii():
        return re.search(r"\b" + re.escape(word), text, re.IGNORECASE) is not None
    return word in text


def area_of(info: Info) -> AreaSpec:
    """Every area of the info block as one union: names, geocodes, polygons, circles."""
    spec = AreaSpec()
    for area in info.areas:
        spec.descriptions.append(area.area_desc)
        spec.geocodes.extend((code.value_name, code.value) for code in area.geocodes)
        spec.polygons.extend([(p.lat, p.lon) for p in polygon] for polygon in area.polygons)
        spec.circles.extend((c.center.lat, c.center.lon, c.radius_km) for c in area.circles)
    return spec


def status_of(alert: Alert) -> AlertStatus:
    """Actual, or a drill (Exercise/Test); System and Draft are not for broadcast."""
    status = _STATUSES.get(alert.status)
    if status is None:
        raise CapError(
            "alert/status",
            f"状态 {alert.status.value} 的消息不用于广播（仅 Actual/Exercise/Test）/ "
            f"status {alert.status.value} is not for broadcast (only Actual, Exercise, Test)",
        )
    return status


def msg_type_of(alert: Alert) -> MsgType:
    """Alert, Update or Cancel; Update and Cancel must name what they replace."""
    msg_type = _MSG_TYPES.get(alert.msg_type)
    if msg_type is None:
        raise CapError(
            "alert/msgType",
            f"{alert.msg_type.value} 消息不用于广播（仅 Alert/Update/Cancel）/ "
            f"msgType {alert.msg_type.value} is not for broadcast (only Alert, Update, Cancel)",
        )
    if msg_type is not MsgType.alert and not alert.references:
        raise CapError(
            "alert/references",
            f"{alert.msg_type.value} 消息必须引用原警报 / "
            f"an {alert.msg_type.value} message must reference the alert(s) it replaces",
        )
    return msg_type
