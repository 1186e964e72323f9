"""Aliyun goes down in the middle of a 5,000-household alert (two workers, the default
per-number limits): the rest goes through Tencent, every household is reached, no phone gets
the alert from both providers, and the switch shows in the counts and on the console. Aliyun
saying "slow down" is no failure: its texts wait for it, none goes to Tencent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.app import create_app
from broadcaster.db.database import Database
from broadcaster.delivery.breaker_board import read_board
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.queues import connect
from broadcaster.registry.models import Household, Person, PhoneKind
from broadcaster.settings import Settings
from broadcaster.sim.aliyun_sms_config import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
from tests.factories import registry as f
from tests.integration.console_support import login, users
from tests.integration.tencent_support import APP_ID, HOOK_TOKEN, SECRET_ID, SECRET_KEY
from tests.stack import Stack, running_stack, wait_until

HOUSEHOLDS = 5_000
SWITCH_AT = 1_000  # Aliyun accepted about this many when it goes down
PHONES = [f"139{n:08d}" for n in range(HOUSEHOLDS)]  # national numbers, +86 in the registry
PUSH_TOKEN = "aliyun-push-token-failover-0123456789"
ALERT = {
    "hazard": "rain",
    "level": "orange",  # SMS at issue; nothing else to reach here, calls come after 10 min
    "headline": "暴雨橙色预警",
    "body": "预计未来6小时降雨量将达50毫米以上。",
    "zones": ["V1"],
}
# Opens after a few refusals; stays open for the rest of the test (Aliyun stays down).
BREAKER = {"window_seconds": 5, "min_requests": 5, "error_rate": 0.5, "open_seconds": 600}
OPTIONS = {
    "aliyun": {
        "access_key_id": DEFAULT_KEY_ID,
        "access_key_secret": DEFAULT_KEY_SECRET,
        "push_token": PUSH_TOKEN,
        "endpoint": "{sim_url}/dysmsapi",
    },
    "sms_aliyun": {"rate_per_second": 2_000},
    "sms_tencent": {
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "sdk_app_id": APP_ID,
        "endpoint": "{sim_url}/tencent",
        "hook_token": HOOK_TOKEN,
        "concurrency": 50,
    },
}


def seed(db: Database) -> None:
    """5,000 households in one grid, each with one mobile of its own."""
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        homes = [
            Household(code=f"FO{n:05d}", head_name=f"户主{n}", address=f"测试路{n}号", grid=grid)
            for n in range(HOUSEHOLDS)
        ]
        session.add_all(homes)
        session.flush()
        session.add_all(
            Person(
                household_id=home.id,
                position=0,
                phone=f"+86{phone}",
                phone_kind=PhoneKind.mobile,
                name=home.head_name,
            )
            for home, phone in zip(homes, PHONES, strict=True)
        )


def configure_sims(stack: Stack) -> None:
    """Both providers push their receipts to the stack's hooks."""
    hooks = f"{stack.api_url}/hooks"
    aliyun = {
        "public_base": stack.api_url,
        "report_url": f"{hooks}/aliyun/sms_report?token={PUSH_TOKEN}",
    }
    tencent = {
        "secrets": {SECRET_ID: SECRET_KEY},
        "apps": [APP_ID],
        "public_base": stack.api_url,
        "status_url": f"{hooks}/tencent/sms/status?token={HOOK_TOKEN}",
    }
    for path, body in (("aliyun/sms/config", aliyun), ("tencent/config", tencent)):
        httpx.post(f"{stack.sim_url}/api/{path}", json=body, timeout=30).raise_for_status()


def aliyun_accepted(stack: Stack) -> list[str]:
    """The national numbers Aliyun's SendSms accepted, one entry per message."""
    answer = httpx.get(f"{stack.sim_url}/api/aliyun/sms", params={"limit": 100_000}, timeout=60)
    return [str(sms["phone_number"]) for sms in answer.json()["sms"]]


def tencent_accepted(stack: Stack) -> list[str]:
    """The national numbers Tencent's SendSms accepted ("Ok"), one entry per message."""
    answer = httpx.get(f"{stack.sim_url}/api/tencent/sms", params={"limit": 100_000}, timeout=60)
    return [
        str(status["PhoneNumber"]).removeprefix("+86")
        for request in answer.json()["sms"]
        for status in request.get("SendStatusSet", [])
        if status["Code"] == "Ok"
    ]


def delivered(db: Database, alert_id: int) -> int:
    with db.read() as session:
        found = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.alert_id == alert_id, Delivery.state == DeliveryState.delivered)
        )
    return int(found or 0)


def test_aliyun_down_mid_alert_the_rest_goes_through_tencent_once_each(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    users(db)
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            media={"sms": ["aliyun", "tencent"]},
            channel_options=OPTIONS,
            breaker=BREAKER,
            provider_timeout_seconds=30,  # a busy simulator is slow, not down
        ) as stack,
        stack.client() as api,
    ):
        configure_sims(stack)
        created = api.post("/api/v1/alerts", json=ALERT)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()
        stack.start_worker(scheduler=False)

        wait_until(lambda: len(aliyun_accepted(stack)) >= SWITCH_AT, timeout=300, every=0.1)
        httpx.post(f"{stack.sim_url}/api/aliyun/faults", json={"down": True}).raise_for_status()
        wait_until(lambda: delivered(db, alert_id) == HOUSEHOLDS, timeout=600, every=1)

        def counts() -> dict[str, Any]:  # they may be a second old
            found: dict[str, Any] = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
            return found

        wait_until(lambda: counts()["households_reached"] == HOUSEHOLDS)
        by_aliyun, by_tencent = aliyun_accepted(stack), tencent_accepted(stack)
        final = counts()
        console = console_page(stack, alert_id)

    # every household reached, each phone by exactly one provider, once
    assert len(set(by_aliyun)) == len(by_aliyun)
    assert len(set(by_tencent)) == len(by_tencent)
    assert not set(by_aliyun) & set(by_tencent)
    assert sorted(by_aliyun + by_tencent) == PHONES
    assert SWITCH_AT <= len(by_aliyun) < HOUSEHOLDS  # the switch came mid-alert
    # the counts say who carried what
    carried = {name: c["carried"] for name, c in final["by_provider"].items() if c["carried"]}
    assert carried == {"aliyun": len(by_aliyun), "tencent": len(by_tencent)}
    assert final["by_provider"]["aliyun"]["failed"] > 0  # refused while down: the cause
    assert final["deliveries"]["sms"]["by_state"] == {"delivered": HOUSEHOLDS}
    with db.read() as session:
        errors = set(session.scalars(select(DeliveryAttempt.error_code).distinct()))
    assert "number_limit" not in errors  # no refused attempt held a number's window
    # the console: Aliyun paused (its breaker open), Tencent carrying the rest
    panel = console[console.index('id="h-providers"') :]
    row = rf'data-provider="tencent">\s*<th scope="row">tencent</th>\s*<td>短信 {len(by_tencent):,}'
    assert re.search(row, panel)
    health = panel[panel.index("provider-health") :]
    aliyun_health = health[health.index('data-provider="aliyun"') :].split("</tr>", 1)[0]
    assert 'class="flag"' in aliyun_health
    assert "已暂停（连续出错）" in aliyun_health
    assert "ServiceUnavailable" in aliyun_health


def console_page(stack: Stack, alert_id: int) -> str:
    """The alert's console page as a signed-in officer sees it."""
    settings = stack.settings.model_copy(update={"public_base_url": "http://testserver"})
    with TestClient(create_app(settings, stack.db)) as console:
        login(console, "officer")
        page = console.get(f"/console/alerts/{alert_id}")
    assert page.status_code == 200, page.text
    return page.text


def attempt_codes(db: Database, alert_id: int) -> dict[int, set[str | None]]:
    """By delivery, the error codes of its attempts."""
    found: dict[int, set[str | None]] = {}
    with db.read() as session:
        for delivery_id, code in session.execute(
            select(DeliveryAttempt.delivery_id, DeliveryAttempt.error_code)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.alert_id == alert_id)
        ):
            found.setdefault(delivery_id, set()).add(code)
    return found


def test_a_throttling_aliyun_is_waited_for_not_failed_over(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    households = 10
    with db.transaction() as session:
        grid = f.zone_tree(session)["G1"]
        for phone in PHONES[:households]:
            f.household(session, grid=grid, phones=(f"+86{phone}",))
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            media={"sms": ["aliyun", "tencent"]},
            channel_options=OPTIONS,
            breaker={**BREAKER, "min_requests": 3},
        ) as stack,
        stack.client() as api,
    ):
        configure_sims(stack)
        faults = f"{stack.sim_url}/api/aliyun/faults"
        httpx.post(faults, json={"throttle_rate": 1.0}).raise_for_status()
        created = api.post("/api/v1/alerts", json=ALERT)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        def all_throttled() -> bool:
            codes = attempt_codes(db, alert_id)
            return len(codes) == households and all("Throttling.User" in c for c in codes.values())

        wait_until(all_throttled)  # every text refused for now: "slow down"
        httpx.post(faults, json={"throttle_rate": 0.0}).raise_for_status()
        wait_until(lambda: delivered(db, alert_id) == households)
        by_aliyun, by_tencent = aliyun_accepted(stack), tencent_accepted(stack)
        board = read_board(
            connect(stack.settings.redis_url or ""), stack.settings.queue_prefix, 600
        )

    assert sorted(by_aliyun) == PHONES[:households]
    assert by_tencent == []  # no failover: Aliyun was busy, not down
    assert "sms_aliyun" not in board  # its breaker never changed state: never fed them
    codes = set().union(*attempt_codes(db, alert_id).values())
    assert codes == {None, "Throttling.User"}  # waited; no number's window held it
