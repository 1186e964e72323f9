"""`by_provider` on an alert's counts: which provider carried how many deliveries (the
accepted attempt's), with its attempts accepted, delivered and failed — a failover from one
provider to the next shows in them — and the providers' recent health from the same log."""

from __future__ import annotations

import datetime as dt

from broadcaster.alerts.models import Alert
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.ledger import claim
from broadcaster.delivery.models import DeliveryState
from broadcaster.delivery.statuses import StatusReport
from broadcaster.reports.counts import alert_counts
from broadcaster.reports.providers import provider_health
from broadcaster.settings import Settings
from channels.base import Outcome, SendResult
from tests.integration.ledger_support import leased, record, report

S = DeliveryState
DOWN = "isv.OUT_OF_SERVICE"


def test_a_failover_shows_which_provider_carried_what(db: Database, settings: Settings) -> None:
    alert_id, first = leased(db, settings, households=5)
    d = [c.id for c in first.items]
    record(
        db,
        first.token,
        *[SendResult(k, Outcome.retry, error_code="rate_limited") for k in d],  # ours: a hold
    )
    with db.transaction() as session:
        aliyun = claim(
            session,
            alert_id=alert_id,
            channel="sms",
            limit=100,
            lease_seconds=10,
            now=utcnow(),
            provider="aliyun",
        )
    record(
        db,
        aliyun.token,
        SendResult(d[0], Outcome.accepted, "A1"),
        SendResult(d[1], Outcome.accepted, "A2"),
        *[SendResult(k, Outcome.retry, error_code=DOWN) for k in d[2:]],  # Aliyun went down
    )
    report(db, StatusReport(d[0], "A1", S.delivered))
    with db.transaction() as session:
        tencent = claim(
            session,
            alert_id=alert_id,
            channel="sms",
            limit=100,
            lease_seconds=10,
            now=utcnow(),
            provider="tencent",
        )
    assert sorted(c.id for c in tencent.items) == sorted(d[2:])
    record(db, tencent.token, *[SendResult(k, Outcome.accepted, f"T{k}") for k in d[2:]])
    report(
        db, StatusReport(d[2], f"T{d[2]}", S.delivered), StatusReport(d[3], f"T{d[3]}", S.failed)
    )

    with db.read() as session:
        counts = alert_counts(session, session.get_one(Alert, alert_id))
        health = {
            h.provider: h for h in provider_health(session, since=utcnow() - dt.timedelta(hours=1))
        }
    by = {name: c.model_dump() for name, c in counts.by_provider.items()}
    assert by["aliyun"] == {
        "carried": 2,
        "accepted": 2,
        "delivered": 1,
        "failed": 3,  # refused while down: sent again by the next provider
        "unknown": 0,
        "media": {"sms": 2},
    }
    assert by["tencent"] == {
        "carried": 3,
        "accepted": 3,
        "delivered": 1,
        "failed": 1,
        "unknown": 0,
        "media": {"sms": 3},
    }
    assert by["sms"]["carried"] == 0  # the first lease's holds: no provider's fault
    assert by["sms"]["failed"] == 0
    assert sum(c["carried"] for c in by.values()) == 5  # each household once
    assert (health["aliyun"].failed, health["aliyun"].last_error) == (3, DOWN)
    assert health["aliyun"].errors == {DOWN: 3}
    assert health["sms"].held == 5
    assert health["sms"].failure_rate == 0.0
    assert (health["tencent"].accepted, health["tencent"].failed) == (3, 1)
