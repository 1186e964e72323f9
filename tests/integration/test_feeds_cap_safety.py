"""Bad CAP documents through the endpoint: refused naming the element, nothing created."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.integration.feeds_support import (
    CAP,
    cap_document,
    counts,
    fixture,
    post_cap,
    region_registry,
)
from tests.stack import ADMIN_KEY, running_stack
from tests.unit.test_cap_parse import BILLION_LAUGHS, EXTERNAL_ENTITY

NOTHING = {
    "alerts": 0,
    "recipients": 0,
    "deliveries": 0,
    "messages": 0,
    "speaker_tasks": 0,
    "stations": 0,
}
MINIMAL = fixture("minimal.xml").decode()


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        (BILLION_LAUGHS, "document", "DTD"),
        (EXTERNAL_ENTITY, "document", "DTD"),
        (MINIMAL.replace("    <event>暴雨黄色预警</event>\n", ""), "alert/info[0]/event", ""),
        (MINIMAL.replace("<status>Actual</status>", "<status>Draft</status>"), "alert/status", ""),
        (
            MINIMAL.replace("29.70,106.75 29.70,106.90 29.80,106.90 29.70,106.75", "1,1 1,2 2,2"),
            "alert/info[0]/area[0]/polygon[0]",
            "at least 4",
        ),
        (
            cap_document("C-1", msg_type="Cancel", references="x@y,NOPE,2024-07-01T08:00:00+08:00"),
            "alert/references",
            "nothing to cancel",
        ),
        (b"<alert", "document", "malformed"),
    ],
)
def test_a_bad_document_is_refused_with_its_element_and_creates_nothing(
    client: TestClient,
    role_keys: dict[Role, str],
    db: Database,
    document: bytes | str,
    field: str,
    words: str,
) -> None:
    region_registry(db)
    answer = post_cap(client, role_keys[Role.feed], document)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["message"]
    assert counts(db) == NOTHING
    assert "root:" not in answer.text  # nothing of /etc/passwd


def test_a_20_mb_document_is_refused_on_its_declared_size(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    huge = MINIMAL.encode().replace(b"<headline>", b"<headline>" + b"x" * (20 * 1024 * 1024))
    answer = post_cap(client, role_keys[Role.feed], huge)
    assert answer.status_code == 413
    assert answer.json()["field"] == "document"
    assert "too large" in answer.json()["message"]
    assert counts(db) == NOTHING


def test_a_20_mb_stream_without_length_is_cut_off_at_the_limit(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    def endless() -> Iterator[bytes]:
        yield MINIMAL.encode()[:200]
        for _ in range(20 * 16):  # 20 MB in 64 KiB chunks, sent chunked (no Content-Length)
            yield b"x" * 65536

    answer = client.post(
        "/api/v1/feeds/cap",
        content=endless(),
        headers={**auth(role_keys[Role.feed]), "Content-Type": CAP},
    )
    assert answer.status_code == 413
    assert "too large" in answer.json()["message"]
    assert counts(db) == NOTHING


def test_other_media_types_are_refused(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    answer = post_cap(client, role_keys[Role.feed], fixture("minimal.xml"), "application/json")
    assert answer.status_code == 415
    assert answer.json()["field"] == "Content-Type"
    assert counts(db) == NOTHING


def test_only_feeds_and_admins_may_post_cap(
    client: TestClient, role_keys: dict[Role, str], db: Database
) -> None:
    for role in (Role.officer, Role.operator, Role.field):
        assert post_cap(client, role_keys[role], fixture("minimal.xml")).status_code == 403
    assert counts(db) == NOTHING


async def test_twenty_copies_posted_at_once_make_one_alert(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    region_registry(db)
    document = cap_document("STORM-1", geocodes=("500112",))
    with running_stack(db, redis_settings, tmp_path / "stack") as stack:
        async with httpx.AsyncClient(
            base_url=stack.api_url,
            timeout=60,
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": CAP},
        ) as api:
            answers = await asyncio.gather(
                *(api.post("/api/v1/feeds/cap", content=document) for _ in range(20))
            )
    assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
    assert {a.json()["alert"]["id"] for a in answers} == {answers[0].json()["alert"]["id"]}
    assert {a.json()["action"] for a in answers} == {"issued", "duplicate"}
    found = counts(db)
    assert (found["alerts"], found["messages"], found["recipients"]) == (1, 1, 3)
