"""Parsers and formatters of CAP 1.2 value forms: date-times, points, polygons, circles, lists."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from urllib.parse import urlsplit

from broadcaster.feeds.cap.model import Circle, Point, Reference

# The CAP 1.2 schema restricts every date-time to this pattern: numeric offset, no fraction.
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})([+-])(\d{2}):(\d{2})", re.ASCII
)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
# xs:language, which info/language uses (RFC 3066 tags).
_LANGUAGE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*", re.ASCII)
_FORBIDDEN_IN_IDS = (" ", ",", "<", "&")
MIN_POLYGON_PAIRS = 4


class BadValue(ValueError):
    """A value that does not have its CAP form; `reason` is bilingual (Chinese / English)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_datetime(text: str) -> dt.datetime:
    """An aware datetime from the CAP form `2003-06-17T14:57:00-07:00`.

    CAP 1.2 (§3.3.2 and the schema pattern): alphabetic zone designators such as "Z" MUST NOT
    be used (UTC is written -00:00); a zone offset is required; no fractional seconds.
    """
    value = text.strip()
    if _DATETIME.fullmatch(value):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise BadValue(f"日期时间数值超出范围 / date-time out of range: {value}") from exc
    if value[-1:] in ("Z", "z"):
        raise BadValue(
            "不允许使用字母时区标识“Z”，UTC 应写作 -00:00 / "
            'the time-zone designator "Z" is not allowed; write UTC as -00:00'
        )
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", value, re.ASCII):
        raise BadValue("日期时间缺少时区 / date-time has no time-zone offset")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+([+-]\d{2}:\d{2})?", value, re.ASCII):
        raise BadValue("日期时间不允许小数秒 / fractional seconds are not allowed")
    raise BadValue(
        "日期时间格式无效，应如 2003-06-17T14:57:00-07:00 / "
        f"invalid date-time, expected e.g. 2003-06-17T14:57:00-07:00: {value[:40]}"
    )


def format_datetime(value: dt.datetime) -> str:
    """The CAP form of an aware datetime; UTC is written -00:00 as CAP 1.2 requires."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("CAP date-times need a time zone")
    text = value.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def parse_number(text: str) -> float:
    """A finite decimal number (xs:decimal form: no exponent, no inf/nan)."""
    value = text.strip()
    if not _NUMBER.fullmatch(value):
        raise BadValue(f"不是有效的数字 / not a decimal number: {value[:40]}")
    return float(value)


def parse_point(text: str) -> Point:
    """`lat,lon` in WGS 84, latitude within ±90 and longitude within ±180."""
    parts = text.split(",")
    if len(parts) != 2:
        raise BadValue(f"坐标应为“纬度,经度” / coordinate must be 'lat,lon': {text[:40]}")
    try:
        lat, lon = parse_number(parts[0]), parse_number(parts[1])
    except BadValue as exc:
        raise BadValue(f"坐标不是数字 / coordinate is not numeric: {text[:40]}") from exc
    if not -90.0 <= lat <= 90.0:
        raise BadValue(f"纬度超出范围 [-90, 90] / latitude out of range [-90, 90]: {lat}")
    if not -180.0 <= lon <= 180.0:
        raise BadValue(f"经度超出范围 [-180, 180] / longitude out of range [-180, 180]: {lon}")
    return Point(lat, lon)


def parse_polygon(text: str) -> tuple[Point, ...]:
    """Whitespace-separated `lat,lon` pairs: at least 4, and the first equals the last."""
    points = tuple(parse_point(pair) for pair in text.split())
    if len(points) < MIN_POLYGON_PAIRS:
        raise BadValue(
            f"多边形至少需要 4 个坐标对，实际 {len(points)} 个 / "
            f"polygon needs at least 4 coordinate pairs, got {len(points)}"
        )
    if points[0] != points[-1]:
        raise BadValue(
            "多边形未闭合（首尾坐标不同）/ polygon is not closed (first pair differs from last)"
        )
    return points


def parse_circle(text: str) -> Circle:
    """`lat,lon radius` with the radius in kilometres, not negative."""
    parts = text.split()
    if len(parts) != 2:
        raise BadValue(f"圆应为“纬度,经度 半径” / circle must be 'lat,lon radius': {text[:60]}")
    center = parse_point(parts[0])
    try:
        radius = parse_number(parts[1])
    except BadValue as exc:
        raise BadValue(f"半径不是数字 / radius is not numeric: {parts[1][:40]}") from exc
    if radius < 0:
        raise BadValue(f"半径不能为负 / radius must not be negative: {radius}")
    return Circle(center, radius)


def parse_group(text: str) -> tuple[str, ...]:
    """A CAP group listing: whitespace-delimited, multi-word items in double quotes."""
    items: list[str] = []
    rest = text.strip()
    while rest:
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end < 0:
                raise BadValue("引号未配对 / unbalanced double quote in group listing")
            items.append(rest[1:end])
            rest = rest[end + 1 :]
            if rest and not rest[0].isspace():
                raise BadValue("引号后缺少空白分隔 / missing whitespace after a quoted item")
        else:
            item, _, rest = _split_first(rest)
            if '"' in item:
                raise BadValue("引号位置不正确 / misplaced double quote in group listing")
            items.append(item)
        rest = rest.lstrip()
    return tuple(items)


def _split_first(text: str) -> tuple[str, str, str]:
    match = re.search(r"\s", text)
    if match is None:
        return text, "", ""
    return text[: match.start()], match.group(), text[match.end() :]


def parse_references(text: str) -> tuple[Reference, ...]:
    """Whitespace-separated `sender,identifier,sent` triples."""
    references: list[Reference] = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise BadValue(
                "引用应为“发送者,标识,发送时间”三元组 / "
                f"reference must be a 'sender,identifier,sent' triple: {item[:80]}"
            )
        try:
            sent = parse_datetime(parts[2])
        except BadValue as exc:
            raise BadValue(
                f"引用中的发送时间无效 / bad sent time in reference: {exc.reason}"
            ) from exc
        references.append(Reference(parts[0], parts[1], sent))
    if not references:
        raise BadValue("引用为空 / references is empty")
    return tuple(references)


def format_reference(reference: Reference) -> str:
    return f"{reference.sender},{reference.identifier},{format_datetime(reference.sent)}"


def check_id_text(text: str) -> str:
    """identifier and sender: no spaces, commas or the restricted characters < and &."""
    if any(c in text for c in _FORBIDDEN_IN_IDS) or any(c.isspace() for c in text):
        raise BadValue(
            "不得包含空白、逗号、< 或 & / must not contain whitespace, commas, '<' or '&'"
        )
    return text


def check_language(text: str) -> str:
    if not _LANGUAGE.fullmatch(text):
        raise BadValue(f"语言代码无效（RFC 3066）/ invalid language tag (RFC 3066): {text[:40]}")
    return text


def check_absolute_uri(text: str) -> str:
    """A full absolute URI (info/web)."""
    parts = urlsplit(text)
    if not parts.scheme or not (parts.netloc or parts.path) or any(c.isspace() for c in text):
        raise BadValue(f"应为完整的绝对 URI / must be a full absolute URI: {text[:80]}")
    return text


def check_base64(text: str) -> str:
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadValue("derefUri 不是有效的 base64 / derefUri is not valid base64") from exc
    return text


def parse_size(text: str) -> int:
    if not re.fullmatch(r"\+?\d+", text.strip(), re.ASCII):
        raise BadValue(
            f"大小应为非负整数（字节）/ size must be a non-negative integer: {text[:40]}"
        )
    return int(text)
