"""A red alert reaches a village on every channel at once: SMS, voice, WeCom, loudspeaker;
a key press in a simulated call confirms the right household."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.confirm.models import Confirmation, ConfirmVia
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.registry.models import Household
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.stack import running_stack, wait_until

ROBOT = "robot-key-0123456789abcdef"
POSTED = (DeliveryState.sent, DeliveryState.delivered)
LANDLINE = "+862312345678"
POLICY_ALERT = {k: v for k, v in RED_RAIN.items() if k != "channels"}


def seed(db: Database) -> dict[str, Any]:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        group = f.wecom_group(session, zone=zones["V1"], key=ROBOT)
        f.loudspeaker(session, zone=zones["V1"])
        mobiles = [f"+861740300{n:04d}" for n in range(5)]
        for n, phone in enumerate(mobiles):
            f.household(
                session,
                grid=zones["G1"],
                phones=(phone,),
                group=group,
                vulnerability=("elderly_alone",) if n == 0 else (),
            )
        landline_home = f.household(session, grid=zones["G2"], phones=(LANDLINE,), group=group)
    return {"mobiles": mobiles, "landline_household": landline_home.id}


def sim_get(stack_sim_url: str, path: str) -> Any:
    return httpx.get(f"{stack_sim_url}{path}", timeout=30).json()


def test_red_alert_reaches_a_village_on_every_channel(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seeded = seed(db)
    sim = {
        "wecom": {"keys": {ROBOT: "一村防汛群"}},
        "calls": {"auto_answer": True, "answer_after_ms": 0},
    }
    with (
        running_stack(db, redis_settings, tmp_path / "s", sim_config=sim) as stack,
        stack.client() as api,
    ):
        created = api.post("/api/v1/alerts", json={**POLICY_ALERT, "zones": ["V1"]})
        assert created.status_code == 201, created.text
        assert created.json()["channels"] == ["sms", "voice", "wecom_group", "loudspeaker"]
        stack.start_worker()

        def everything_went_out() -> bool:
            calls = sim_get(stack.sim_url, "/api/calls")["calls"]
            posts = sim_get(stack.sim_url, "/api/wecom/messages")["messages"]
            return len(stack.sim_messages()) == 5 and len(calls) == 6 and len(posts) == 1

        wait_until(everything_went_out, timeout=120)
        assert {m.to for m in stack.sim_messages()} == set(seeded["mobiles"])
        post = sim_get(stack.sim_url, "/api/wecom/messages")["messages"][0]
        assert "暴雨红色预警" in post["content"]
        assert "/public/alerts/" in post["content"]
        mentioned = set(post["mentioned_mobile_list"])
        assert mentioned == {m.removeprefix("+86") for m in seeded["mobiles"]}

        tasks = api.get("/api/v1/loudspeaker/tasks").json()
        assert len(tasks) == 1
        assert "暴雨红色预警" in tasks[0]["script"]
        audio = httpx.get(tasks[0]["audio_mp3"], timeout=60)
        assert audio.status_code == 200
        assert audio.content[:3] == b"ID3" or audio.content[0] == 0xFF
        assert api.post(f"/api/v1/loudspeaker/tasks/{tasks[0]['id']}/played").status_code == 200
        assert api.post(f"/api/v1/loudspeaker/tasks/{tasks[0]['id']}/played").status_code == 409

        call = sim_get(stack.sim_url, f"/api/calls?to=%2B{LANDLINE[1:]}")["calls"][0]
        wait_until(
            lambda: sim_get(stack.sim_url, f"/api/calls/{call['sid']}")["waiting_for_key"],
            timeout=60,
        )
        pressed = httpx.post(
            f"{stack.sim_url}/api/calls/{call['sid']}/press", json={"digits": "1"}, timeout=30
        )
        assert pressed.status_code == 200, pressed.text

    with db.read() as session:
        state = session.scalar(
            select(Recipient.state)
            .join(Household)
            .where(Household.id == seeded["landline_household"])
        )
        via = session.scalars(select(Confirmation.via)).all()
    assert state == RecipientState.confirmed
    assert via == [ConfirmVia.keypress]


def test_a_landline_household_that_hears_the_call_counts_as_reached(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    """Nobody presses a key: the prompts time out, the call completes answered by a person,
    and the landline-only household is reached (not confirmed)."""
    seeded = seed(db)
    sim = {
        "wecom": {"keys": {ROBOT: "一村防汛群"}},
        "calls": {"auto_answer": True, "answer_after_ms": 0, "silence_after_ms": 100},
    }
    with (
        running_stack(db, redis_settings, tmp_path / "s", sim_config=sim) as stack,
        stack.client() as api,
    ):
        alert_id = api.post("/api/v1/alerts", json={**POLICY_ALERT, "zones": ["V1"]}).json()["id"]
        stack.start_worker()

        def all_reached() -> bool:
            counts = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
            return bool(counts["households_reached"] == 6)

        wait_until(all_reached, timeout=120)
        voice = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]["deliveries"]["voice"]
    assert voice["by_state"] == {"delivered": 6}
    with db.read() as session:
        state = session.scalar(
            select(Recipient.state)
            .join(Household)
            .where(Household.id == seeded["landline_household"])
        )
    assert state == RecipientState.reached


def test_the_wecom_limit_holds_across_two_workers(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    """24 posts to one robot with two workers: never more than 20 in any 60 s at the
    simulator, none refused with 45009, none lost (the last four wait out the window)."""
    seed(db)
    posts = 24
    sim = {"wecom": {"keys": {ROBOT: "一村防汛群"}}}
    with (
        running_stack(db, redis_settings, tmp_path / "s", sim_config=sim) as stack,
        stack.client() as api,
    ):
        stack.start_worker()
        stack.start_worker()
        for n in range(posts):
            body = {
                **POLICY_ALERT,
                "zones": ["V1"],
                "channels": ["wecom_group"],
                "headline": f"暴雨红色预警（第{n + 1}次更新）",
            }
            assert api.post("/api/v1/alerts", json=body).status_code == 201

        def all_posted() -> bool:
            sent = sim_get(stack.sim_url, "/api/wecom/messages?limit=1000")["messages"]
            return sum(1 for m in sent if m["errcode"] == 0) == posts

        wait_until(all_posted, timeout=240)
        log = sim_get(stack.sim_url, "/api/wecom/messages?limit=1000")["messages"]
    accepted = sorted(m["at"] for m in log if m["errcode"] == 0)
    busiest = max(sum(1 for t in accepted if start <= t < start + 60) for start in accepted)
    print(
        f"\nwecom: {len(accepted)} posts, busiest 60 s window {busiest}, "
        f"span {accepted[-1] - accepted[0]:.1f} s"
    )
    assert busiest <= 20
    assert [m for m in log if m["errcode"] not in (0, None)] == []
    assert accepted[-1] - accepted[0] >= 59


def test_a_robot_answering_45009_is_retried_not_lost(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    """The robot refuses with errcode 45009 (someone else's posts filled its minute): the
    delivery goes back to the queue with the code recorded, and posts once the robot
    accepts again — never failed, never lost, never posted twice."""
    seed(db)
    sim = {"wecom": {"keys": {ROBOT: "一村防汛群"}, "key_errcodes": {ROBOT: 45009}}}
    with (
        running_stack(db, redis_settings, tmp_path / "s", sim_config=sim) as stack,
        stack.client() as api,
    ):
        stack.start_worker()
        body = {**POLICY_ALERT, "zones": ["V1"], "channels": ["wecom_group"]}
        assert api.post("/api/v1/alerts", json=body).status_code == 201

        def log() -> list[dict[str, Any]]:
            messages: list[dict[str, Any]] = sim_get(
                stack.sim_url, "/api/wecom/messages?limit=100"
            )["messages"]
            return messages

        def delivery() -> Delivery:
            with db.read() as session:
                found = session.scalars(
                    select(Delivery).where(Delivery.channel == "wecom_group")
                ).one()
                session.expunge(found)
            return found

        wait_until(lambda: any(m["errcode"] == 45009 for m in log()), timeout=60)
        wait_until(lambda: delivery().error_code == "45009", timeout=30)
        refused = delivery()
        assert refused.state is DeliveryState.queued  # back in the queue, not failed
        assert refused.not_before is not None

        httpx.post(
            f"{stack.sim_url}/api/wecom/config", json={"key_errcodes": {}}, timeout=30
        ).raise_for_status()
        wait_until(lambda: delivery().state in POSTED, timeout=60)
        accepted = [m for m in log() if m["errcode"] == 0]
    assert len(accepted) == 1  # posted once, after the refusals
    assert delivery().attempts >= 2
