"""Aliyun voice pushes at /hooks/aliyun/… on a real database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.confirm.models import Confirmation, HelpRequest
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.integration.aliyun_voice_support import PUSH_TOKEN, options
from tests.integration.voice_support import mark_called, plan_calls, snapshot, voice_app

REPORT, IVR = "/hooks/aliyun/voice_report", "/hooks/aliyun/ivr_report"
ALLOWED = "100.104.0.0/16"  # where the pushes come from in this deployment


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="http://testserver",
        channel_options={"aliyun": options(push_allow=[ALLOWED])},
    )


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(voice_app(settings, db), client=("100.104.3.4", 40000)) as test_client:
        yield test_client


def report(delivery_id: int, call_id: str, status: str, dtmf: str = "") -> dict[str, Any]:
    return {
        "call_id": call_id,
        "start_time": "2026-12-07 08:00:00",
        "end_time": "2026-12-07 08:00:40",
        "duration": "40",
        "status_code": status,
        "status_msg": "",
        "out_id": str(delivery_id),
        "dtmf": dtmf,
    }


def key(delivery_id: int, call_id: str, digit: str) -> dict[str, Any]:
    return {"call_id": call_id, "status_code": "300000", "out_id": str(delivery_id), "dtmf": digit}


def states(db: Database) -> dict[int, tuple[DeliveryState, str | None]]:
    with db.read() as session:
        rows = session.execute(select(Delivery.id, Delivery.state, Delivery.error_code)).all()
    return {row.id: (row.state, row.error_code) for row in rows}


def households(db: Database, delivery_ids: list[int]) -> list[RecipientState]:
    """The households' states, in the order of their calls (recipient ids follow no household
    order on PostgreSQL)."""
    with db.read() as session:
        found = dict(
            session.execute(
                select(Delivery.id, Recipient.state)
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(Delivery.id.in_(delivery_ids))
            ).all()
        )
    return [found[i] for i in delivery_ids]


def test_a_batch_of_call_reports_and_keys_is_applied_once(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _alert, rows = plan_calls(db, settings, households=3)
    ids = mark_called(db, rows)
    d = [row.delivery_id for row in rows]
    batch = [
        report(d[0], ids[d[0]], "200000"),
        report(d[1], ids[d[1]], "200002"),
        report(999_999, "9^9", "200000"),  # not one of ours: skipped
    ]
    answer = client.post(f"{REPORT}?token={PUSH_TOKEN}", json=batch)
    assert (answer.status_code, answer.json()["code"]) == (200, 0)
    found = states(db)
    assert (found[d[0]], found[d[1]]) == (
        (DeliveryState.delivered, None),
        (DeliveryState.failed, "200002"),
    )
    keys = [key(d[0], ids[d[0]], "1"), key(d[2], ids[d[2]], "2")]
    assert client.post(f"{IVR}?token={PUSH_TOKEN}", json=keys).json()["code"] == 0
    assert households(db, d) == [
        RecipientState.confirmed,
        RecipientState.pending,
        RecipientState.needs_help,
    ]
    before = snapshot(db)
    again = [report(d[0], ids[d[0]], "200000", dtmf="1"), report(d[1], ids[d[1]], "200000")]
    assert client.post(f"{REPORT}?token={PUSH_TOKEN}", json=again).status_code == 200
    assert client.post(f"{IVR}?token={PUSH_TOKEN}", json=keys).status_code == 200
    assert snapshot(db) == before  # a failed call stays failed; each key counts once
    with db.read() as session:
        assert len(session.scalars(select(Confirmation)).all()) == 2
        assert len(session.scalars(select(HelpRequest)).all()) == 1


@pytest.mark.parametrize("query", ["", "?token=", "?token=guess", f"?token={PUSH_TOKEN}x"])
def test_a_push_without_the_secret_token_changes_nothing(
    client: TestClient, db: Database, settings: Settings, query: str
) -> None:
    _alert, rows = plan_calls(db, settings, households=1)
    ids = mark_called(db, rows)
    d = rows[0].delivery_id
    before = snapshot(db)
    for path, body in ((REPORT, [report(d, ids[d], "200000")]), (IVR, [key(d, ids[d], "1")])):
        assert client.post(f"{path}{query}", json=body).status_code == 403
    assert snapshot(db) == before


def test_a_push_from_outside_the_allowed_sources_changes_nothing(
    db: Database, settings: Settings
) -> None:
    _alert, rows = plan_calls(db, settings, households=1)
    ids = mark_called(db, rows)
    d = rows[0].delivery_id
    before = snapshot(db)
    with TestClient(voice_app(settings, db), client=("203.0.113.9", 40000)) as stranger:
        answer = stranger.post(f"{IVR}?token={PUSH_TOKEN}", json=[key(d, ids[d], "1")])
    assert answer.status_code == 403
    assert snapshot(db) == before


def test_a_push_that_is_not_a_json_array_is_refused(client: TestClient) -> None:
    answer = client.post(f"{REPORT}?token={PUSH_TOKEN}", content=b"call_id=1")
    assert answer.status_code == 422
    text = json.dumps(answer.json(), ensure_ascii=False)
    assert "JSON" in text


def test_a_call_whose_request_timed_out_is_resolved_by_its_report(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _alert, rows = plan_calls(db, settings, households=1)
    d = rows[0].delivery_id
    with db.transaction() as session:  # what the worker records when Aliyun did not answer
        session.execute(
            update(Delivery)
            .where(Delivery.id == d)
            .values(state=DeliveryState.unknown, error_code="timeout", provider_id=None)
        )
    answer = client.post(f"{REPORT}?token={PUSH_TOKEN}", json=[report(d, "5^6", "200000")])
    assert answer.status_code == 200
    with db.read() as session:
        row = session.get(Delivery, d)
        assert row is not None
        assert (row.state, row.provider_id, row.error_code) == (
            DeliveryState.delivered,
            "5^6",
            None,
        )
