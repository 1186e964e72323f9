"""The alert lifecycle end to end (API + worker + simulator): an orange alert to a village,
60 % confirm, each reply acknowledged once by SMS; an evacuation order at red reaches every
household again — confirmed ones too — by SMS and call, WeCom and the loudspeaker get the new
text, confirmations restart; 50 % confirm again (a new acknowledgement each); the all-clear
reaches every household that was sent the alert, open visits close, the alert ends and leaves
/public."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.followup.models import VisitState, VisitTask
from broadcaster.settings import Settings
from tests.factories import registry as f
from tests.stack import Stack, running_stack, wait_until

ROBOT = "robot-key-lifecycle-0123456789"
HOUSEHOLDS = 10
PHONES = [f"+861740500{n:04d}" for n in range(HOUSEHOLDS)]
ORANGE = {
    "hazard": "rain",
    "level": "orange",
    "headline": "暴雨橙色预警",
    "body": "预计未来6小时降雨量将达50毫米以上。",
    "instruction": "危险区人员做好转移准备。",
    "zones": ["V1"],
}
WENT_OUT = ("sent", "delivered")
SAFE_ACK = "已收到您的平安确认"


def seed(db: Database) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        group = f.wecom_group(session, zone=zones["V1"], key=ROBOT)
        f.loudspeaker(session, zone=zones["V1"])
        for n, phone in enumerate(PHONES):
            f.household(
                session,
                grid=zones["G1"],
                phones=(phone,),
                group=group,
                vulnerability=("elderly_alone",) if n >= HOUSEHOLDS - 2 else (),
            )


def texts(stack: Stack, *, acks: bool = False) -> dict[str, list[Any]]:
    """What each phone was sent, oldest first: the warnings and notices, or (`acks`) the
    acknowledgements of its replies."""
    sent: dict[str, list[Any]] = {phone: [] for phone in PHONES}
    for message in sorted(stack.sim_messages(), key=lambda m: m.created):
        outbound = message.direction == "outbound-api" and message.to in sent
        if outbound and (SAFE_ACK in message.body) is acks:
            sent[message.to].append(message)
    return sent


def ack_counts(stack: Stack) -> list[int]:
    return [len(messages) for messages in texts(stack, acks=True).values()]


def sim(stack: Stack, path: str) -> Any:
    return httpx.get(f"{stack.sim_url}{path}", timeout=30).json()


def reply(stack: Stack, sids: list[str]) -> None:
    for sid in sids:
        answer = httpx.post(
            f"{stack.sim_url}/api/messages/{sid}/reply", json={"body": "1"}, timeout=30
        )
        assert answer.status_code == 200, answer.text


def sms_out(db: Database, alert_id: int, revision: int) -> bool:
    """Every SMS of the revision handed over and recorded (replies answer what went out)."""
    with db.read() as session:
        states = session.scalars(
            select(Delivery.state).where(
                Delivery.alert_id == alert_id,
                Delivery.channel == "sms",
                Delivery.revision == revision,
                Delivery.notice.is_(None),
            )
        ).all()
    return len(states) == HOUSEHOLDS and all(s.value in WENT_OUT for s in states)


def test_orange_then_evacuation_order_at_red_then_all_clear(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    seed(db)
    config = {
        "wecom": {"keys": {ROBOT: "一村防汛群"}},
        "calls": {"auto_answer": True, "answer_after_ms": 0, "silence_after_ms": 100},
    }
    with (
        running_stack(db, redis_settings, tmp_path / "s", sim_config=config) as stack,
        stack.client() as api,
    ):
        created = api.post("/api/v1/alerts", json=ORANGE)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        stack.start_worker()

        def counts() -> dict[str, Any]:
            body: dict[str, Any] = api.get(f"/api/v1/alerts/{alert_id}").json()["counts"]
            return body

        wait_until(lambda: all(len(m) == 1 for m in texts(stack).values()))
        wait_until(lambda: len(sim(stack, "/api/wecom/messages")["messages"]) == 1)
        wait_until(lambda: sms_out(db, alert_id, 1))
        assert "public" in api.get("/public").text
        assert "暴雨橙色预警" in api.get("/public").text

        first = [texts(stack)[phone][0].sid for phone in PHONES[:6]]  # 60 % confirm
        reply(stack, first)
        wait_until(lambda: counts()["households_confirmed"] == 6)
        # each reply is acknowledged once, on SMS; a second "1" is not acknowledged again
        wait_until(lambda: ack_counts(stack) == [1] * 6 + [0] * 4)
        reply(stack, first[:1])

        order = {
            "level": "red",
            "evacuate": True,
            "headline": "暴雨红色预警，立即转移",
            "instruction": "请立即转移到安全地带。",
        }
        changed = api.post(f"/api/v1/alerts/{alert_id}/update", json=order)
        assert changed.status_code == 200, changed.text
        assert changed.json()["households_asked"] == HOUSEHOLDS
        # counts may be up to a second old (the counts cache; fresh counters: issue 19)
        wait_until(lambda: (counts()["households_confirmed"], counts()["round"]) == (0, 2))

        # every household again, the six that confirmed included: a new SMS and a call
        wait_until(lambda: all(len(m) == 2 for m in texts(stack).values()))
        for phone, messages in texts(stack).items():
            assert messages[1].body.startswith("【转移令】"), (phone, messages[1].body)
            assert "红色" in messages[1].body
        wait_until(
            lambda: {c["to"] for c in sim(stack, "/api/calls?limit=100")["calls"]} == set(PHONES)
        )
        wait_until(lambda: len(sim(stack, "/api/wecom/messages")["messages"]) == 2)
        post = sim(stack, "/api/wecom/messages")["messages"][-1]
        assert "【转移令】" in post["content"]
        assert "红色" in post["content"]
        tasks = api.get("/api/v1/loudspeaker/tasks", params={"state": "open"}).json()
        assert len(tasks) == 1  # the orange task is withdrawn: the operator plays the order
        assert "紧急转移令" in tasks[0]["script"]
        assert "红色" in tasks[0]["script"]
        assert tasks[0]["audio_mp3"].endswith("audio.mp3?r=2")  # new audio, a new URL

        wait_until(lambda: sms_out(db, alert_id, 2))
        second = [texts(stack)[phone][1].sid for phone in PHONES[:5]]  # 50 % confirm again
        reply(stack, second)
        wait_until(lambda: counts()["households_confirmed"] == 5)
        wait_until(lambda: ack_counts(stack) == [2] * 5 + [1] + [0] * 4)  # a new round
        history = api.get(f"/api/v1/alerts/{alert_id}/revisions").json()["revisions"]
        assert history[0]["households"]["confirmed"] == 6
        assert history[1]["households"]["confirmed"] == 5
        with db.read() as session:
            open_visits = session.scalars(
                select(VisitTask.state).where(VisitTask.state == VisitState.open)
            ).all()
        assert open_visits  # the vulnerable households' visits, carried into the red round

        lifted = api.post(f"/api/v1/alerts/{alert_id}/all-clear", json={"note": "降雨已减弱。"})
        assert lifted.status_code == 200, lifted.text
        assert lifted.json()["households_notified"] == HOUSEHOLDS
        wait_until(lambda: all(len(m) == 3 for m in texts(stack).values()))
        for phone, messages in texts(stack).items():
            assert "解除" in messages[2].body, (phone, messages[2].body)
            assert "降雨已减弱" in messages[2].body
        wait_until(lambda: len(sim(stack, "/api/wecom/messages")["messages"]) == 3)
        assert "解除" in sim(stack, "/api/wecom/messages")["messages"][-1]["content"]
        speakers = api.get("/api/v1/loudspeaker/tasks", params={"state": "open"}).json()
        assert len(speakers) == 1  # the operator plays the all-clear, with its own audio
        assert "解除" in speakers[0]["script"]
        assert speakers[0]["audio_mp3"].endswith("audio.mp3?r=3x")
        detail = api.get(f"/api/v1/alerts/{alert_id}").json()
        assert detail["state"] == "closed"
        assert "暴雨橙色预警" not in api.get("/public").text
        with db.read() as session:
            visits = set(session.scalars(select(VisitTask.state)))
            notices = session.scalars(
                select(Delivery.state).where(Delivery.notice == "all_clear")
            ).all()
        assert VisitState.open not in visits
        assert VisitState.in_progress not in visits
        wait_until(lambda: _all_gone(db))
        assert notices
        assert ack_counts(stack) == [2] * 5 + [1] + [0] * 4
        assert all(m.body.startswith("【") for ms in texts(stack, acks=True).values() for m in ms)


def _all_gone(db: Database) -> bool:
    with db.read() as session:
        states = session.scalars(select(Delivery.state).where(Delivery.notice == "all_clear")).all()
    return bool(states) and all(s is not DeliveryState.queued for s in states)
