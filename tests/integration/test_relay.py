"""Relay end to end (API, a worker with its scheduler, the simulator): a red alert to a
village with two WeChat groups and one QQ group texts three owners their relay links; two
mark "forwarded"; the third task escalates to the zone lead once the policy's time is up —
time driven by moving the task's due time, never by sleeping — and the counts say 2 of 3."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from broadcaster.auth.models import AuditEvent
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.relay.escalation import escalate_overdue
from broadcaster.relay.models import RelayState, RelayTask
from broadcaster.settings import Settings
from tests.factories.alerts import RED_RAIN
from tests.integration.relay_support import seed_village, tasks_by_group
from tests.stack import running_stack, wait_until

RELAY_LINK = re.compile(r"(http://[^\s]+/relay/[A-Za-z0-9_-]+)")


def relay_sms_sent(db: Database, expected: int) -> bool:
    with db.read() as session:
        done = session.scalar(
            select(func.count()).where(
                Delivery.channel == "relay",
                Delivery.state.in_((DeliveryState.sent, DeliveryState.delivered)),
            )
        )
    return done == expected


def test_red_alert_relay_to_two_wechat_and_one_qq_group(
    db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    village = seed_village(db)
    with (
        running_stack(db, redis_settings, tmp_path / "stack") as stack,
        stack.client() as api,
        httpx.Client(timeout=30) as phone,
    ):
        created = api.post("/api/v1/alerts", json={**RED_RAIN, "zones": ["V1"]})
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        tasks = tasks_by_group(db, alert_id)
        assert set(tasks) == {"WC1", "WC2", "QQ1"}  # three relay tasks
        stack.start_worker()
        wait_until(lambda: relay_sms_sent(db, 3), timeout=120)

        # The owners' SMS, as the simulator received them, carry their own relay links.
        owner_of = {phone_no: code for code, phone_no in village.owner_phones.items()}
        links: dict[str, str] = {}
        for message in stack.sim_messages():
            if message.to in owner_of and "/relay/" in message.body:
                found = RELAY_LINK.search(message.body)
                assert found is not None, message.body
                links[owner_of[message.to]] = found.group(1)
        assert set(links) == {"WC1", "WC2", "QQ1"}
        assert len(set(links.values())) == 3
        for code, link in links.items():
            page = phone.get(link)  # the chat app's preview: a GET changes nothing
            assert page.status_code == 200
            assert tasks_by_group(db, alert_id)[code].state is RelayState.open

        for code in ("WC1", "WC2"):
            assert phone.post(links[code]).status_code == 200
        assert phone.post(links["WC1"]).status_code == 409  # a second "forwarded"

        # Time moves on: the QQ task's due time (issue + the red policy's 10 min) is now.
        issued = tasks["QQ1"].created_at
        assert tasks["QQ1"].due_at == issued + dt.timedelta(minutes=10)
        with db.transaction() as session:
            session.execute(
                update(RelayTask)
                .where(RelayTask.alert_id == alert_id)
                .values(due_at=utcnow() - dt.timedelta(seconds=1))
            )
        # The worker's follow-up tick escalates it and texts the zone lead a link of their own.
        wait_until(lambda: any(m.to == village.lead_phone for m in stack.sim_messages()))
        lead_sms = [m for m in stack.sim_messages() if m.to == village.lead_phone]
        assert len(lead_sms) == 1
        assert "超时未转发" in lead_sms[0].body
        lead_link = RELAY_LINK.search(lead_sms[0].body)
        assert lead_link is not None
        assert lead_link.group(1) != links["QQ1"]
        assert phone.get(lead_link.group(1)).status_code == 200

        final = tasks_by_group(db, alert_id)
        assert [final[c].state for c in ("WC1", "WC2", "QQ1")] == [
            RelayState.forwarded,
            RelayState.forwarded,
            RelayState.escalated,
        ]
        assert final["QQ1"].escalated_to_worker_id == village.lead_id
        assert final["QQ1"].flagged
        with db.transaction() as session:  # another tick later: nothing escalates twice
            assert escalate_overdue(session, now=utcnow() + dt.timedelta(hours=1)).tasks == 0
        with db.read() as session:
            escalations = session.scalar(
                select(func.count()).where(AuditEvent.action == "relay.escalated")
            )
        assert escalations == 1

        detail = api.get(f"/api/v1/alerts/{alert_id}").json()
        assert detail["counts"]["groups"] == {
            "targeted": 3,
            "relayed": 2,
            "escalated": 1,
            "members_targeted": 240,
            "members_relayed": 200,
        }
        assert detail["counts"]["households_confirmed"] == 0
        board = api.get("/api/v1/relay-tasks", params={"alert_id": alert_id, "state": "escalated"})
        assert [t["group_code"] for t in board.json()] == ["QQ1"]
        public = phone.get(f"{stack.api_url}/public")
        assert public.status_code == 200
        assert RED_RAIN["headline"] in public.text
