"""Polling an Atom feed of CAP alerts over HTTP: conditional GET, each entry taken once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broadcaster.db.database import Database
from broadcaster.flows.polling import poll_due
from broadcaster.settings import FeedSource, FeedsSettings, Settings
from tests.integration.feeds_support import cap_document, counts, region_registry
from tests.stack import ServerThread, free_port, reserve_port
from tests.unit.test_cap_parse import BILLION_LAUGHS

LAST_MODIFIED = "Mon, 01 Jul 2024 00:00:00 GMT"


@dataclass
class FeedServer:
    """A CAP publisher: an Atom feed with ETag and Last-Modified, and its CAP documents."""

    base: str = ""
    version: int = 1
    entries: list[tuple[str, str]] = field(default_factory=list)  # (name, updated)
    documents: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def feed(request: Request) -> Response:
            self.requests.append(("feed", dict(request.headers)))
            etag = f'"v{self.version}"'
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag})
            items = "".join(
                f"<entry><id>urn:test:{name}</id><title>{name}</title><updated>{updated}</updated>"
                f'<link rel="alternate" type="application/cap+xml" href="/cap/{name}.xml"/></entry>'
                for name, updated in reversed(self.entries)  # newest first, as feeds do
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                "<id>urn:test:feed</id><title>测试</title><updated>2024-07-01T00:00:00Z</updated>"
                f"{items}</feed>"
            )
            headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
            return Response(body, media_type="application/atom+xml", headers=headers)

        async def document(request: Request) -> Response:
            name = request.path_params["name"]
            self.requests.append((name, dict(request.headers)))
            if name not in self.documents:
                return Response(status_code=404)
            return Response(self.documents[name], media_type="application/cap+xml")

        return Starlette(routes=[Route("/feed.atom", feed), Route("/cap/{name}.xml", document)])

    def fetched(self, name: str) -> int:
        return sum(1 for what, _ in self.requests if what == name)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    port = reserve_port()
    feed = FeedServer(base=f"http://127.0.0.1:{port}")
    with ServerThread(feed.app(), port):
        yield feed


def settings_for(server: FeedServer, tmp_path: Path) -> Settings:
    source = FeedSource(url=f"{server.base}/feed.atom", every_seconds=60, name="测试台")
    return Settings(
        env="test", data_dir=tmp_path, feeds=FeedsSettings(poll=[source], timeout_seconds=5)
    )


def test_a_feed_is_polled_conditionally_and_each_entry_is_taken_once(
    db: Database, server: FeedServer, tmp_path: Path
) -> None:
    region_registry(db)
    settings = settings_for(server, tmp_path)
    url = settings.feeds.poll[0].url
    t0 = dt.datetime(2024, 7, 1, 8, 0, tzinfo=dt.UTC)
    server.documents["a1"] = cap_document("POLL-1")
    server.entries.append(("a1", "2024-07-01T08:00:00+08:00"))
    assert poll_due(db, settings, None, now=t0) == {url: {"issued": 1}}
    assert counts(db)["alerts"] == 1
    assert poll_due(db, settings, None, now=t0 + dt.timedelta(seconds=10)) == {}  # not due
    assert poll_due(db, settings, None, now=t0 + dt.timedelta(seconds=61)) == {
        url: {"not_modified": True}
    }
    conditional = server.requests[-1][1]
    assert conditional["if-none-match"] == '"v1"'
    assert conditional["if-modified-since"] == LAST_MODIFIED
    server.documents["u1"] = cap_document(
        "POLL-2",
        msg_type="Update",
        references="cma@example.cn,POLL-1,2024-07-01T08:00:00+08:00",
        headline="更新",
    )
    server.documents["bad"] = BILLION_LAUGHS
    server.entries += [("u1", "2024-07-01T09:00:00+08:00"), ("bad", "2024-07-01T09:30:00+08:00")]
    server.entries.append(("missing", "2024-07-01T09:40:00+08:00"))
    server.version = 2
    report = poll_due(db, settings, None, now=t0 + dt.timedelta(seconds=122))
    assert report == {url: {"updated": 1, "rejected": 1, "fetch_failed": 1}}
    assert counts(db)["alerts"] == 1
    assert (server.fetched("a1"), server.fetched("u1"), server.fetched("bad")) == (1, 1, 1)
    server.version = 3
    again = poll_due(db, settings, None, now=t0 + dt.timedelta(seconds=183))
    assert again == {url: {"fetch_failed": 1}}  # only the entry whose document failed
    assert (server.fetched("bad"), server.fetched("missing")) == (1, 2)


def test_an_unreachable_feed_is_reported_and_tried_again(db: Database, tmp_path: Path) -> None:
    source = FeedSource(url=f"http://127.0.0.1:{free_port()}/feed.atom", every_seconds=60)
    settings = Settings(env="test", data_dir=tmp_path, feeds=FeedsSettings(poll=[source]))
    t0 = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    first = poll_due(db, settings, None, now=t0)
    assert "error" in first[source.url]
    assert poll_due(db, settings, None, now=t0 + dt.timedelta(seconds=61))[source.url]["error"]
