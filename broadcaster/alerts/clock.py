"""Times as people read them: always in the district's time zone (settings.time_zone)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


def local(moment: dt.datetime, zone: dt.tzinfo | None = None) -> dt.datetime:
    """The moment in the district's zone (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone or DEFAULT_ZONE)


def stamp(
    moment: dt.datetime | None, zone: dt.tzinfo | None = None, *, seconds: bool = False
) -> str:
    """2024-07-01 08:05 (with seconds when asked); empty for no moment."""
    if moment is None:
        return ""
    return local(moment, zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def spoken(moment: dt.datetime | None, zone: dt.tzinfo | None, language: str) -> str:
    """In a message: 12月4日02时11分 / 4 Dec 02:11 (UTC+08:00), in the district's time;
    empty for none."""
    if moment is None:
        return ""
    value = local(moment, zone)
    if language == "zh-CN":
        return f"{value.month}月{value.day}日{value.hour:02d}时{value.minute:02d}分"
    offset = f"{value:%z}"
    return f"{value.day} {value:%b %H:%M} (UTC{offset[:3]}:{offset[3:]})"
