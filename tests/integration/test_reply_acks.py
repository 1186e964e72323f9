"""Residents' SMS replies are acknowledged: once per household and round, on the medium the
reply came in on; a call for help after a safe reply gets the help acknowledgement; unknown
senders and texts that are not an answer get none; a new round (a raised level) a new one."""

from __future__ import annotations

import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.models import Alert
from broadcaster.alerts.texts import NOTICE_ACK_HELP, NOTICE_ACK_SAFE, render
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState
from broadcaster.flows.replies import Inbound, inbound_committer
from broadcaster.queues import SEND, URGENT, get_queue
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.factories import alerts as fa
from tests.integration.test_alert_updates import issue, village
from tests.integration.test_confirm import SMS, setup, sms

ACKS = (NOTICE_ACK_SAFE, NOTICE_ACK_HELP)


def acks(db: Database, alert_id: int) -> list[tuple[str, str, int, str | None]]:
    """(address, channel, revision, notice) of the alert's acknowledgements, in order."""
    with db.read() as session:
        rows = session.execute(
            select(Delivery.address, Delivery.channel, Delivery.revision, Delivery.notice)
            .where(Delivery.alert_id == alert_id, Delivery.notice.in_(ACKS))
            .order_by(Delivery.id)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def phones(db: Database) -> list[str]:
    with db.read() as session:
        return [p or "" for p in session.scalars(select(Person.phone).order_by(Person.id))]


def test_an_sms_reply_gets_one_acknowledgement_per_household_and_revision(
    client: TestClient, db: Database, settings: Settings, role_keys: dict[Role, str]
) -> None:
    village(db, households=3)
    officer = role_keys[Role.officer]
    alert = issue(client, officer, channels=["sms"])
    fa.mark_sent(db, alert["id"])
    first, second, third = phones(db)[:3]
    for body, sid in (("1", "SM1"), ("1", "SM1"), (" 1 ", "SM2"), ("好的 1", "SM3")):
        assert sms(client, settings, first, body, sid).status_code == 200  # SM1 twice: a retry
    assert sms(client, settings, second, "2", "SM4").status_code == 200
    assert sms(client, settings, second, "2", "SM5").status_code == 200
    assert sms(client, settings, third, "水已经进屋了", "SM6").status_code == 200  # not an answer
    assert sms(client, settings, "+8617499999999", "1", "SM7").status_code == 200  # unknown
    assert acks(db, alert["id"]) == [
        (first, "sms", 1, NOTICE_ACK_SAFE),
        (second, "sms", 1, NOTICE_ACK_HELP),
    ]
    # a call for help after a safe reply is acknowledged as such, once; "1" after it is not
    assert sms(client, settings, first, "2", "SM8").status_code == 200
    assert sms(client, settings, first, "2", "SM9").status_code == 200
    assert sms(client, settings, first, "1", "SM10").status_code == 200
    assert sms(client, settings, second, "1", "SM11").status_code == 200
    assert acks(db, alert["id"])[2:] == [(first, "sms", 1, NOTICE_ACK_HELP)]

    # a raised level asks again: the new round's answer gets its own acknowledgement
    changed = client.post(
        f"/api/v1/alerts/{alert['id']}/update", json={"level": "red"}, headers=auth(officer)
    )
    assert changed.json()["asks_again"] is True
    fa.mark_sent(db, alert["id"])  # the red SMS went out
    assert sms(client, settings, first, "1", "SM12").status_code == 200
    assert sms(client, settings, first, "1", "SM13").status_code == 200
    assert sms(client, settings, third, "1", "SM14").status_code == 200
    assert acks(db, alert["id"])[3:] == [
        (first, "sms", 2, NOTICE_ACK_SAFE),
        (third, "sms", 2, NOTICE_ACK_SAFE),
    ]
    with db.read() as session:
        queued = session.scalars(
            select(Delivery.state)
            .where(Delivery.alert_id == alert["id"], Delivery.notice.in_(ACKS))
            .order_by(Delivery.id)
        ).all()
    assert queued[-2:] == [DeliveryState.queued] * 2  # waiting for the SMS worker


def test_acknowledgements_are_templated_in_both_languages(db: Database, settings: Settings) -> None:
    village(db, households=1)
    alert_id = fa.issue(db, settings, zones=["V1"]).alert.id
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        texts = {
            (language, notice): render(
                alert,
                channel="sms",
                language=language,
                templates_dir=settings.config_dir / "templates",
                sender="防汛办",
                notice=notice,
            ).template
            for language in ("zh-CN", "en")
            for notice in ACKS
        }
    assert "已收到您的平安确认" in texts["zh-CN", NOTICE_ACK_SAFE]
    assert "已通知值班人员和包保责任人，请保持电话畅通" in texts["zh-CN", NOTICE_ACK_HELP]
    assert "safe" in texts["en", NOTICE_ACK_SAFE]
    assert "keep your phone on" in texts["en", NOTICE_ACK_HELP]
    zh = [text for (language, _), text in texts.items() if language == "zh-CN"]
    assert all(text.startswith("【防汛办】") for text in zh)


def test_replies_together_are_acknowledged_once_each_and_enqueued_after_commit(
    db: Database, redis_settings: Settings
) -> None:
    """A group commit of replies: each household's first answer acknowledged, "2" after "1"
    in the same batch too; one send job per batch of acknowledgements, once committed."""
    alert_id, people = setup(db, redis_settings)
    connection = redis.Redis.from_url(redis_settings.redis_url or "")
    queues = [get_queue(name, connection, redis_settings) for name in (SEND, URGENT)]
    before = sum(q.count for q in queues)
    first, second = people[0].phone or "", people[1].phone or ""
    inbound_committer(db, redis_settings, connection).apply([
        Inbound("SM1", first, "1", SMS),
        Inbound("SM2", first, "1", SMS),
        Inbound("SM3", first, "2", SMS),
        Inbound("SM4", second, "1", SMS),
        Inbound("SM5", "+8617499999999", "2", SMS),
    ])  # fmt: skip
    assert [(a[0], a[3]) for a in acks(db, alert_id)] == [
        (first, NOTICE_ACK_SAFE),
        (first, NOTICE_ACK_HELP),
        (second, NOTICE_ACK_SAFE),
    ]
    assert sum(q.count for q in queues) == before + 1  # 3 acknowledgements: one batch
    connection.close()
