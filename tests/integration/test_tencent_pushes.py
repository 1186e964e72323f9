"""Tencent's pushes at /hooks/tencent/…: refused without the token or from elsewhere, status
reports applied in batches (by our id or by Tencent's serial number), forward only."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.app import create_app
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.integration.tencent_support import APP_ID, HOOK_TOKEN, SECRET_ID, SECRET_KEY

STATUS = "/hooks/tencent/sms/status"
OPTIONS = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "sdk_app_id": APP_ID}


def make_settings(tmp_path: Path, **options: Any) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="http://testserver",
        channel_options={"sms_tencent": {**OPTIONS, "hook_token": HOOK_TOKEN, **options}},
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def sent(db: Database, settings: Settings, households: int) -> dict[int, str]:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(households):
            f.household(session, grid=zones["G1"])
    issued = fa.issue(db, settings, zones=["V1"])
    return fa.mark_sent(db, issued.alert.id)


def report(sid: str, status: str, ext: str | None = None) -> dict[str, str]:
    entry = {
        "user_receive_time": "2026-12-07 08:03:04",
        "nationcode": "86",
        "mobile": "13900000001",
        "report_status": status,
        "errmsg": "DELIVRD" if status == "SUCCESS" else "MK:0001",
        "description": "",
        "sid": sid,
    }
    return entry if ext is None else {**entry, "ext": ext}


def snapshot(db: Database) -> list[tuple[Any, ...]]:
    with db.read() as session:
        rows = session.execute(select(Delivery.id, Delivery.state).order_by(Delivery.id)).all()
    return [tuple(row) for row in rows]


def test_pushes_without_the_token_or_from_elsewhere_are_refused(
    db: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    sids = sent(db, settings, households=3)
    before = snapshot(db)
    body = json.dumps([report(sid, "SUCCESS", str(d)) for d, sid in sids.items()])
    headers = {"content-type": "application/json"}
    with TestClient(create_app(settings, db)) as client:
        for query in ("", "?token=guess", f"?token={HOOK_TOKEN}x"):
            answer = client.post(f"{STATUS}{query}", content=body, headers=headers)
            assert answer.status_code == 403, answer.text
    fenced = make_settings(tmp_path, hook_sources=["10.0.0.0/8"])
    with TestClient(create_app(fenced, db)) as client:  # the test client is no such address
        answer = client.post(f"{STATUS}?token={HOOK_TOKEN}", content=body, headers=headers)
        assert answer.status_code == 403
    assert snapshot(db) == before


def test_a_shuffled_repeated_batch_applies_by_our_id_or_the_serial_number(
    db: Database, settings: Settings
) -> None:
    sids = sent(db, settings, households=12)
    entries = []
    for delivery_id, sid in sids.items():
        status = "FAIL" if delivery_id % 4 == 0 else "SUCCESS"
        ext = str(delivery_id) if delivery_id % 2 else None  # half say ours, half only theirs
        entries.extend([report(sid, status, ext)] * 2)
    entries.append(report("2000:unknown-serial", "SUCCESS"))  # not ours: ignored
    random.Random(7).shuffle(entries)
    with TestClient(create_app(settings, db)) as client:
        for start in range(0, len(entries), 10):  # Tencent pushes up to 100 at a time
            answer = client.post(
                f"{STATUS}?token={HOOK_TOKEN}",
                content=json.dumps(entries[start : start + 10]),
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"result": 0, "errmsg": "OK"}
    states = dict(snapshot(db))
    for delivery_id in sids:
        failed = delivery_id % 4 == 0
        assert states[delivery_id] == (DeliveryState.failed if failed else DeliveryState.delivered)
    with db.read() as session:
        reached = session.scalars(select(Recipient.state)).all()
    assert sum(1 for s in reached if s is RecipientState.reached) == sum(1 for d in sids if d % 4)


def test_a_push_that_is_not_a_json_array_is_unprocessable(db: Database, settings: Settings) -> None:
    with TestClient(create_app(settings, db)) as client:
        answer = client.post(
            f"{STATUS}?token={HOOK_TOKEN}",
            content=b"sid=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 422
