"""Polling configured Atom/RSS feeds of CAP alerts: conditional GET, each new entry ingested."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urljoin

import feedparser  # type: ignore[import-untyped]
import httpx
import redis
from sqlalchemy import select

from broadcaster import __version__
from broadcaster.alerts.authority import Issuer
from broadcaster.auth.audit import Actor
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.errors import BroadcasterError
from broadcaster.feeds.models import FeedPoll
from broadcaster.flows.cap_ingest import Ingested, enqueue, ingest_document
from broadcaster.settings import FeedSource, Settings

log = logging.getLogger(__name__)
SEEN_LIMIT = 1000
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")


class FetchError(Exception):
    """The feed or a CAP document could not be fetched (tried again at the next poll)."""


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes
    headers: Mapping[str, str]


def tick() -> dict[str, Any]:
    """The periodic tick: poll every configured feed whose interval has passed."""
    from broadcaster.delivery.runtime import runtime

    rt = runtime()
    return poll_due(rt.db, rt.settings, rt.redis, now=utcnow())


def poll_due(
    db: Database,
    settings: Settings,
    connection: redis.Redis | None,
    *,
    now: dt.datetime,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Poll the feeds that are due; a failing feed is reported and tried again later."""
    due = [source for source in settings.feeds.poll if _is_due(db, source, now)]
    if not due:
        return {}
    headers = {"User-Agent": f"broadcaster/{__version__} (CAP feed poller)"}
    http = client or httpx.Client(
        timeout=settings.feeds.timeout_seconds, follow_redirects=True, headers=headers
    )
    try:
        return {source.url: poll_one(db, settings, connection, http, source, now) for source in due}
    finally:
        if client is None:
            http.close()


def _is_due(db: Database, source: FeedSource, now: dt.datetime) -> bool:
    with db.read() as session:
        polled = session.scalar(select(FeedPoll.polled_at).where(FeedPoll.url == source.url))
    return polled is None or (now - polled).total_seconds() >= source.every_seconds


def fetch(http: httpx.Client, url: str, headers: dict[str, str], limit: int) -> Fetched:
    """GET with a size cap, read in chunks; 304 comes back as is, other non-200s fail."""
    try:
        with http.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(304, b"", dict(response.headers))
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} from {url}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(f"{url}: {declared} bytes, limit {limit}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise FetchError(f"{url}: more than {limit} bytes")
            return Fetched(200, bytes(body), dict(response.headers))
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {exc!s:.200}") from exc


def cap_link(entry: Any, base: str) -> str | None:
    """The entry's CAP document: a link typed as CAP/XML, else one ending .xml, else its link."""
    links = [link for link in entry.get("links", []) if link.get("href")]
    for wanted in CAP_TYPES:
        for link in links:
            if str(link.get("type", "")).split(";")[0].strip().lower() == wanted:
                return urljoin(base, str(link["href"]))
    for link in links:
        if str(link["href"]).split("?")[0].lower().endswith(".xml"):
            return urljoin(base, str(link["href"]))
    link = entry.get("link")
    return urljoin(base, str(link)) if link else None


def entry_key(entry: Any) -> str:
    """An entry seen again unchanged is skipped; a changed entry (new `updated`) is not."""
    ident = entry.get("id") or entry.get("link") or entry.get("title", "")
    return f"{ident}|{entry.get('updated') or entry.get('published') or ''}"[:500]


def _oldest_first(entries: list[Any]) -> list[Any]:
    """Alerts before the updates that reference them (feeds list the newest first)."""

    def stamp(entry: Any) -> float:
        parsed = entry.get("updated_parsed") or entry.get("published_parsed")
        return time.mktime(parsed) if parsed else 0.0

    bottom_up = entries[::-1]  # sorting is stable: undated entries keep bottom-up order
    return sorted(bottom_up, key=stamp)


def poll_one(
    db: Database,
    settings: Settings,
    connection: redis.Redis | None,
    http: httpx.Client,
    source: FeedSource,
    now: dt.datetime,
) -> dict[str, Any]:
    state = _state(db, source.url)
    conditional = {}
    if state.etag:
        conditional["If-None-Match"] = state.etag
    if state.last_modified:
        conditional["If-Modified-Since"] = state.last_modified
    try:
        fetched = fetch(http, source.url, conditional, settings.feeds.max_feed_bytes)
        if b"<!ENTITY" in fetched.body:
            raise FetchError("entity declarations are not allowed in a feed")
    except FetchError as exc:
        log.warning("feed %s: %s", source.url, exc)
        _save(db, source.url, polled_at=now, error=str(exc)[:1000])
        return {"error": str(exc)}
    if fetched.status == 304:
        _save(db, source.url, polled_at=now, ok_at=now, error="")
        return {"not_modified": True}
    parsed = feedparser.parse(fetched.body, response_headers={"content-location": source.url})
    seen = list(state.seen)
    counts: Counter[str] = Counter()
    actor = Actor(f"feed:{source.name or source.url}"[:100])
    issuer = Issuer.polled(source.name or source.url)
    ingest = partial(ingest_document, actor=actor, issuer=issuer, senders=source.senders)
    for entry in _oldest_first(list(parsed.entries)):
        key = entry_key(entry)
        if key in seen:
            continue
        outcome = _take(db, settings, connection, http, entry, source.url, ingest)
        counts[outcome] += 1
        if outcome != "fetch_failed":
            seen.append(key)
    _save(
        db,
        source.url,
        polled_at=now,
        ok_at=now,
        error="",
        etag=fetched.headers.get("etag"),
        last_modified=fetched.headers.get("last-modified"),
        seen=seen[-SEEN_LIMIT:],
    )
    return dict(counts)


def _take(
    db: Database,
    settings: Settings,
    connection: redis.Redis | None,
    http: httpx.Client,
    entry: Any,
    base: str,
    ingest: Callable[[Database, Settings, bytes], Ingested],
) -> str:
    """Fetch and ingest one entry's CAP document; returns what happened."""
    url = cap_link(entry, base)
    if url is None:
        return "no_cap_link"
    try:
        document = fetch(http, url, {}, settings.feeds.max_cap_bytes)
        result = ingest(db, settings, document.body)
    except FetchError as exc:
        log.warning("feed entry %s: %s", url, exc)
        return "fetch_failed"
    except BroadcasterError as exc:  # a bad document, an alert of another issuer, or a state
        # that refuses the action
        log.warning("feed entry %s rejected: %s", url, exc.message)
        return "rejected"
    enqueue(settings, connection, result)
    return result.action


def _state(db: Database, url: str) -> FeedPoll:
    with db.transaction() as session:
        state = session.scalar(select(FeedPoll).where(FeedPoll.url == url))
        if state is None:
            state = FeedPoll(url=url, seen=[])
            session.add(state)
        return state


def _save(db: Database, url: str, **values: Any) -> None:
    with db.transaction() as session:
        state = session.scalar(select(FeedPoll).where(FeedPoll.url == url).with_for_update())
        if state is None:
            return
        for name, value in values.items():
            setattr(state, name, value)
