"""Shared by the voice call tests (no tests here): service and simulator under uvicorn."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from psycopg.errors import DeadlockDetected
from sqlalchemy.exc import OperationalError

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.ledger import claim, record_results
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.settings import Settings, TwilioSettings
from broadcaster.sim import NumberConfig, SimConfig, create_standalone_app
from channels.base import SendItem, SendResult
from channels.voice_twilio import VoiceTwilio, VoiceTwilioSettings
from tests.integration.voice_support import STATUS, TWIML, VoiceRow, plan_calls, voice_app
from tests.stack import ServerThread, reserve_port

ACCOUNT = "AC" + "c4" * 16
TOKEN = "voice-sim-token-0123456789abcdef"
OUR_NUMBER = "+8613800000099"
SID = re.compile(r"^CA[0-9a-f]{32}$")


def sim_config() -> SimConfig:
    """No seed: call SIDs differ from test to test, so a late callback never matches."""
    return SimConfig(accounts={ACCOUNT: TOKEN}, numbers={OUR_NUMBER: NumberConfig()})


@dataclass
class Env:
    settings: Settings
    sim_url: str
    api_url: str
    control: httpx.Client
    db: Database

    def channel(self, **overrides: Any) -> VoiceTwilio:
        return VoiceTwilio(
            VoiceTwilioSettings(
                account_sid=ACCOUNT,
                auth_token=TOKEN,
                from_number=OUR_NUMBER,
                api_base_url=self.sim_url,
                **overrides,
            )
        )

    def configure(self, **calls: Any) -> None:
        self.control.post("/api/config", json={"calls": calls}).raise_for_status()

    def act(self, sid: str, action: str, **body: str) -> dict[str, Any]:
        answer = self.control.post(f"/api/calls/{sid}/{action}", json=body)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def call(self, sid: str) -> dict[str, Any]:
        data: dict[str, Any] = self.control.get(f"/api/calls/{sid}").raise_for_status().json()
        return data


@contextmanager
def running(db: Database, data_dir: Path) -> Iterator[Env]:
    """The service (with the voice webhooks) and the simulator, each under uvicorn."""
    api_port, sim_port = reserve_port(), reserve_port()
    api_url, sim_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sim_port}/sim"
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=db.url,
        public_base_url=api_url,
        twilio=TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN, from_number=OUR_NUMBER),
    )
    with (
        ServerThread(create_standalone_app(sim_config()), sim_port),
        ServerThread(voice_app(settings, Database(db.url)), api_port),
        httpx.Client(base_url=sim_url, timeout=60) as control,
    ):
        yield Env(settings, sim_url, api_url, control, db)


async def place(env: Env, alert_id: int, **channel: Any) -> dict[int, SendResult]:
    """What a send job does: lease the queued calls, place them, record the answers."""
    with env.db.transaction() as session:
        lease = claim(
            session, alert_id=alert_id, channel="voice", limit=100, lease_seconds=60, now=utcnow()
        )
    items = [
        SendItem(
            key=c.id,
            address=c.address,
            body="",
            callback_url=env.settings.public_url(f"{STATUS}?d={c.id}"),
            extra={"twiml_url": env.settings.public_url(f"{TWIML}?d={c.id}")},
        )
        for c in lease.items
    ]
    sender = env.channel(**channel)
    try:
        results = await sender.send_batch(items)
    finally:
        await sender.close()
    for attempt in range(3):
        try:
            with env.db.transaction() as session:
                record_results(
                    session,
                    token=lease.token,
                    results=results,
                    now=utcnow(),
                    retry_after=dt.timedelta(seconds=5),
                )
            break
        except OperationalError as exc:
            # PostgreSQL may pick this transaction as the victim of a deadlock with the
            # status callbacks that the calls' first events commit meanwhile (they update
            # the same rows in another order); a worker would meet it too.
            if not isinstance(exc.orig, DeadlockDetected) or attempt == 2:
                raise
    return {result.key: result for result in results}


async def placed(env: Env, households: int = 1, **alert: Any) -> tuple[list[VoiceRow], list[str]]:
    alert_id, rows = plan_calls(env.db, env.settings, households=households, **alert)
    results = await place(env, alert_id)
    sids = [results[row.delivery_id].provider_id or "" for row in rows]
    assert all(SID.match(sid) for sid in sids), results
    return rows, sids


def delivery(env: Env, delivery_id: int) -> tuple[DeliveryState, str | None, str | None]:
    with env.db.read() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row.state, row.error_code, row.provider_id


def household(env: Env, recipient_id: int) -> RecipientState:
    with env.db.read() as session:
        row = session.get(Recipient, recipient_id)
        assert row is not None
        return row.state


def spoken(call: dict[str, Any]) -> list[str]:
    return [entry["text"] for entry in call["transcript"]]
