"""A new medium from outside the package (tests/fixtures/plugin_dist: a module and its entry
point, no core edit): pagers through the fictional Acme provider are planned, sent at Acme's
rate limit, confirmed by Acme's pushed receipts at its own webhook, counted, and escalated to
as a policy step — by API process and worker alike; each attempt names its provider."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings
from channels.registry import registered
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import ServerThread, reserve_port, running_stack, wait_until

PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "plugin_dist"
TOKEN = "acme-push-token-0123456789"
RATE = 4.0  # pages a second on the Acme account
HOUSEHOLDS = 8
POLICY = """
[red]
channels = ["sms", "pager"]
steps = [{ after = "3s", channel = "pager" }, { after = "1h", visit = true }]
"""


class Acme:
    """The Acme provider: takes pages, answers their ids, then pushes a batch of receipts
    (signed with the token) to the notify URL the pages carried."""

    def __init__(self) -> None:
        self.pages: list[tuple[float, dict[str, Any]]] = []
        self.requests = 0

    def app(self) -> Starlette:
        async def send(request: Request) -> JSONResponse:
            body = await request.json()
            now = time.monotonic()
            self.requests += 1
            ids = {
                str(p["ref"]): f"ACME-{len(self.pages) + n}" for n, p in enumerate(body["pages"])
            }
            self.pages.extend((now, page) for page in body["pages"])
            push = BackgroundTask(self.push, body["pages"], ids)
            return JSONResponse({"ids": ids}, background=push)

        return Starlette(routes=[Route("/send", send, methods=["POST"])])

    async def push(self, pages: list[dict[str, Any]], ids: dict[str, str]) -> None:
        await asyncio.sleep(0.05)
        receipts = [
            {"ref": p["ref"], "id": ids[str(p["ref"])], "status": "delivered"} for p in pages
        ]
        notify = str(pages[0]["notify"]).split("?")[0]  # one URL for the batch, like Aliyun's
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(notify, json=receipts, headers={"X-Acme-Token": TOKEN})
        assert answer.json() == {"code": 0}, answer.text


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fixture distribution installed: on sys.path here, on PYTHONPATH for workers."""
    sys.path.insert(0, str(PLUGIN))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGIN), os.environ.get("PYTHONPATH")]))
    )
    registered.cache_clear()
    try:
        yield PLUGIN
    finally:
        sys.path.remove(str(PLUGIN))
        sys.modules.pop("acme_pager", None)
        registered.cache_clear()


def config_dir(tmp_path: Path) -> Path:
    """The shipped templates (a pager carries the short text its reach implies: it needs no
    template of its own) and a red policy that pages twice."""
    target = tmp_path / "config"
    shutil.copytree(PACKAGE_CONFIG_DIR / "templates", target / "templates")
    (target / "policies.toml").write_text(POLICY)
    return target


def seed(db: Database) -> list[str]:
    mobiles = [f"+861740500{n:04d}" for n in range(HOUSEHOLDS)]
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for phone in mobiles:
            f.household(session, grid=zones["G1"], phones=(phone,))
    return mobiles


def test_a_third_party_medium_is_planned_limited_confirmed_counted_and_escalated_to(
    plugin: Path, db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    mobiles = seed(db)
    acme = Acme()
    acme_port = reserve_port()
    options = {
        "acme_pager": {
            "api_url": f"http://127.0.0.1:{acme_port}",
            "token": TOKEN,
            "rate_per_second": RATE,
        }
    }
    with (
        ServerThread(acme.app(), acme_port),
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            config_dir=config_dir(tmp_path),
            channel_options=options,
        ) as stack,
        stack.client() as api,
    ):
        body = {k: v for k, v in RED_RAIN.items() if k != "channels"}
        created = api.post("/api/v1/alerts", json={**body, "zones": ["V1"]})
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        assert created.json()["channels"] == ["sms", "pager"]
        stack.start_worker()

        def counted() -> dict[str, Any]:
            return api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]["deliveries"]

        wait_until(
            lambda: (
                counted().get("pager", {}).get("by_state", {}).get("delivered") == 2 * HOUSEHOLDS
            ),
            timeout=120,
        )
        pager = counted()["pager"]
        hooks = f"{stack.api_url}/hooks/acme"
        forged = httpx.post(f"{hooks}/status", json=[], headers={"X-Acme-Token": "wrong"})
        garbled = httpx.post(f"{hooks}/status", content=b"[{", headers={"X-Acme-Token": TOKEN})
        unknown = httpx.post(f"{hooks}/nothing", json=[], headers={"X-Acme-Token": TOKEN})

    assert pager["total"] == 2 * HOUSEHOLDS  # at issue, and again at the 3 s step
    assert (forged.status_code, garbled.status_code, unknown.status_code) == (403, 422, 404)
    assert sorted(p["to"] for _t, p in acme.pages) == sorted(mobiles * 2)
    assert all("暴雨红色预警" in p["text"] and "/c/" in p["text"] for _t, p in acme.pages)
    first_wave = sorted(t for t, _p in acme.pages)[:HOUSEHOLDS]
    # Acme's rate: a burst of RATE, then one page every 1/RATE s
    assert first_wave[-1] - first_wave[0] >= (HOUSEHOLDS - RATE) / RATE * 0.8
    assert acme.requests >= 2 + (HOUSEHOLDS - RATE)
    with db.read() as session:
        pages = session.execute(
            select(Delivery.queued_at, Delivery.state, Delivery.provider_id)
            .where(Delivery.channel == "pager")
            .order_by(Delivery.queued_at)
        ).all()
        states = set(session.scalars(select(Recipient.state)))
        carriers = session.execute(
            select(Delivery.channel, DeliveryAttempt.provider)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .distinct()
        ).all()
    assert {state for _q, state, _p in pages} == {DeliveryState.delivered}
    assert all(provider_id.startswith("ACME-") for _q, _s, provider_id in pages)
    assert (pages[-1].queued_at - pages[0].queued_at).total_seconds() >= 3  # the policy step
    assert states == {RecipientState.reached}
    assert sorted(tuple(c) for c in carriers) == [("pager", "acme"), ("sms", "twilio")]
