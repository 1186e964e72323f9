"""The board's event stream on a real server: counts first, again only when they change, and
the stream ends when the browser goes away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from broadcaster.app import create_app
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from broadcaster.web.console import events as console_events
from tests.integration.console_support import CSRF, PASSWORD, confirm_link, seed, users
from tests.stack import ServerThread, free_port, wait_until


@pytest.fixture
def server(db: Database, tmp_path: Path) -> Iterator[tuple[str, FastAPI, Settings]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        env="test",
        database_url=db.url,
        data_dir=tmp_path / "var",
        public_base_url=url,
        secret_key="console-events-secret-0123",
    )
    app = create_app(settings, Database(db.url))
    with ServerThread(app, port):
        yield url, app, settings


def events(response: httpx.Response) -> Iterator[dict[str, object]]:
    """Each `counts` event's data, as the browser's EventSource would deliver it."""
    name = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name == "counts":
            yield json.loads(line[6:])


def test_counts_are_pushed_when_they_change_and_the_stream_ends_with_the_client(
    db: Database, server: tuple[str, FastAPI, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, app, settings = server
    users(db)
    seeded = seed(db, settings)
    key = str(seeded.alert_id)
    looks: list[str] = []  # what each of the stream's looks at the database read, in order
    read_snapshot = console_events.read_snapshot

    def look(db: Database, alert_id: int | None) -> str:
        looks.append(read_snapshot(db, alert_id))
        return looks[-1]

    monkeypatch.setattr(console_events, "read_snapshot", look)
    # A read waits at most 10 s: the stream looks every 2 s and, when nothing changed, says
    # "still here" only after 15 s of looks (counted in looks, so never sooner on a busy box).
    timeout = httpx.Timeout(10, read=10)
    with httpx.Client(base_url=url, timeout=timeout) as browser:
        signed_in = browser.post(
            "/login", data={"username": "officer", "password": PASSWORD}, follow_redirects=False
        )
        assert signed_in.status_code == 303
        with browser.stream("GET", "/console/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            first = next(stream)
            funnel = first["alerts"][key]  # type: ignore[index]
            assert funnel["targeted"] == 6
            assert funnel["confirmed"] == 0
            assert first["versions"]["help"] == "0:0"  # type: ignore[index]
            assert app.state.console_streams.open == 1

            link = confirm_link(settings, seeded.alert_id, seeded.people[0])
            assert browser.post(link, data={"answer": "needs_help"}).status_code == 200
            answered = len(looks)  # looks done by the time the answer was committed
            second = next(stream)
            # Pushed by the first look that could see it (the one under way when the answer
            # was committed, else the next): within one interval of the change, however
            # long the machine takes for a look.
            pushed_by = next(n for n, text in enumerate(looks) if json.loads(text) == second)
            assert pushed_by <= answered + 1, (pushed_by, answered)
            funnel = second["alerts"][key]  # type: ignore[index]
            assert funnel["needs_help"] == 1
            assert funnel["final"] == 1
            assert second["versions"]["help"] != "0:0"  # type: ignore[index]

            # nothing changes: nothing is sent (the read times out before the heartbeat)
            with pytest.raises(httpx.ReadTimeout):
                next(stream)
    wait_until(lambda: app.state.console_streams.open == 0, timeout=15)
    assert app.state.console_streams.served == 1


def test_a_stream_ends_when_its_session_does(
    db: Database, server: tuple[str, FastAPI, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logout revokes the session: a stream opened with it stops soon after, too."""
    monkeypatch.setattr(console_events, "REVALIDATE", 1.0)
    url, app, _settings = server
    users(db)
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=8)) as browser:
        browser.post("/login", data={"username": "officer", "password": PASSWORD})
        csrf = CSRF.search(browser.get("/console").text)
        assert csrf is not None
        with browser.stream("GET", "/console/events") as response:
            stream = events(response)
            next(stream)
            other = httpx.Client(base_url=url, cookies=browser.cookies)
            assert other.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
            other.close()
            assert list(stream) == []  # the server ends the stream (else: a read timeout)
    wait_until(lambda: app.state.console_streams.open == 0, timeout=15)
