"""A CAP document read in: size and geometry bounded, validated, mapped, texts checked, age."""

from __future__ import annotations

import datetime as dt

from broadcaster.alerts.clock import stamp
from broadcaster.feeds.cap import CapError, FeedAlert, FeedContent, parse_alert, to_feed_alert
from broadcaster.feeds.cap.bounds import GeometryLimits
from broadcaster.feeds.rules import load_rules
from broadcaster.plain_text import text_problem
from broadcaster.settings import Settings

MAX_ID = 120  # alerts.sender / alerts.identifier


def read_cap(data: bytes, settings: Settings) -> FeedAlert:
    """Parse, validate and map; CapError/CapInvalid (422, naming the element) otherwise."""
    bounds = settings.feeds
    limits = GeometryLimits(
        bounds.max_cap_areas,
        bounds.max_cap_shapes,
        bounds.max_cap_vertices,
        bounds.max_cap_geocodes,
    )
    document = parse_alert(data, max_bytes=bounds.max_cap_bytes, limits=limits)
    feed = to_feed_alert(document, load_rules(settings.config_dir).cap)
    for name, value in (("sender", feed.sender), ("identifier", feed.identifier)):
        if len(value) > MAX_ID:
            raise CapError(f"alert/{name}", f"超过 {MAX_ID} 个字符 / longer than {MAX_ID}")
    check_texts(feed)
    return feed


def check_texts(feed: FeedAlert) -> None:
    """What residents would read: no control characters, not only invisible ones (CapError)."""
    content = feed.content
    if content is None:
        return
    where = f"alert/info[{content.info_index}]"
    texts = [
        ("event", content.event, False),
        ("headline", content.headline, False),
        ("description", content.body, True),
        ("instruction", content.instruction, True),
        *(("area/areaDesc", d, False) for d in content.area.descriptions),
    ]
    for name, value, multiline in texts:
        if (problem := text_problem(value, multiline=multiline)) is not None:
            raise CapError(f"{where}/{name}", problem)


def stale_reason(
    feed: FeedAlert, content: FeedContent, settings: Settings, now: dt.datetime
) -> str | None:
    """Why a new alert is already over on arrival (an old entry of a polled feed, a replay):
    it expired, or it has no expiry and was sent longer ago than the configured age."""
    if content.expires is not None and content.expires <= now:
        expired = stamp(content.expires, settings.zone)  # as the duty desk reads time
        return (
            f"到达时已过期（{expired}），未发送 / expired before it "
            f"arrived ({expired}): nothing was sent"
        )
    age = now - feed.sent
    if content.expires is None and age > dt.timedelta(hours=settings.feeds.stale_after_hours):
        hours = int(age.total_seconds() // 3600)
        return (
            f"发送于 {hours} 小时前且无失效时间，未发送 / sent {hours} hours ago without an "
            "expiry time: nothing was sent"
        )
    return None
