"""`by_provider` on an alert's counts: which provider carried how many deliveries (the
accepted attempt's), with its attempts accepted, delivered and failed — a failover from one
provider to the next shows in them — and the providers' recent health from the same log."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fastapi.testclient import TestClient

from broadcaster.alerts.models import Alert
from broadcaster.app import create_app
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.breaker import BreakerState
from broadcaster.delivery.breaker_board import publisher
from broadcaster.delivery.ledger import claim
from broadcaster.delivery.models import DeliveryState
from broadcaster.delivery.statuses import StatusReport
from broadcaster.queues import connect
from broadcaster.reports.counts import alert_counts
from broadcaster.reports.providers import attempt_counts, provider_health
from broadcaster.reports.tallies import tallies
from broadcaster.settings import Settings
from channels.base import Outcome, SendResult
from tests.integration.console_support import login, users
from tests.integration.ledger_support import leased, record, report
from tests.integration.templated_support import acme_sms

__all__ = ["acme_sms"]  # the fixture, used by name

S = DeliveryState
DOWN = "isv.OUT_OF_SERVICE"


def failover(db: Database, settings: Settings, first_name: str, second_name: str) -> int:
    """Five households: held once by our own limit, then two accepted by the first provider
    (one delivered) before it went down, the other three sent by the second (one delivered,
    one failed)."""
    alert_id, first = leased(db, settings, households=5)
    d = [c.id for c in first.items]
    record(
        db,
        first.token,
        *[SendResult(k, Outcome.retry, error_code="rate_limited") for k in d],  # ours: a hold
    )
    with db.transaction() as session:
        first_lease = claim(
            session,
            alert_id=alert_id,
            channel="sms",
            limit=100,
            lease_seconds=10,
            now=utcnow(),
            provider=first_name,
        )
    record(
        db,
        first_lease.token,
        SendResult(d[0], Outcome.accepted, "A1"),
        SendResult(d[1], Outcome.accepted, "A2"),
        *[SendResult(k, Outcome.retry, error_code=DOWN) for k in d[2:]],  # the first went down
    )
    report(db, StatusReport(d[0], "A1", S.delivered))
    with db.transaction() as session:
        second = claim(
            session,
            alert_id=alert_id,
            channel="sms",
            limit=100,
            lease_seconds=10,
            now=utcnow(),
            provider=second_name,
        )
    assert sorted(c.id for c in second.items) == sorted(d[2:])
    record(db, second.token, *[SendResult(k, Outcome.accepted, f"T{k}") for k in d[2:]])
    report(
        db, StatusReport(d[2], f"T{d[2]}", S.delivered), StatusReport(d[3], f"T{d[3]}", S.failed)
    )
    return alert_id


def test_a_failover_shows_which_provider_carried_what(db: Database, settings: Settings) -> None:
    alert_id = failover(db, settings, "aliyun", "tencent")

    with db.read() as session:
        counts = alert_counts(session, session.get_one(Alert, alert_id))
        since = utcnow() - dt.timedelta(hours=1)
        health = {h.provider: h for h in provider_health(session, alert_id=alert_id, since=since)}
        assert tallies(session, alert_id).attempts == attempt_counts(session, alert_id)
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
    assert "sms" not in by  # the first lease's holds: no provider's fault, nothing to show
    assert sum(c["carried"] for c in by.values()) == 5  # each household once
    assert (health["aliyun"].failed, health["aliyun"].last_error) == (3, DOWN)
    assert health["aliyun"].errors == {DOWN: 3}
    assert health["sms"].held == 5
    assert health["sms"].failure_rate == 0.0
    assert (health["tencent"].accepted, health["tencent"].failed) == (3, 1)


def test_the_console_shows_providers_and_their_health(
    acme_sms: Path, db: Database, redis_settings: Settings
) -> None:
    settings = redis_settings.model_copy(update={"public_base_url": "http://testserver"})
    alert_id = failover(db, settings, "acme", "twilio")  # Acme down, Twilio took over
    users(db)
    tell = publisher(
        connect(settings.redis_url or ""), settings.queue_prefix, "sms_acme", drill=False
    )
    assert tell is not None
    tell(BreakerState.open, 1)  # a worker's breaker opened on Acme
    with TestClient(create_app(settings, db)) as console:
        login(console, "officer")
        zh = console.get(f"/console/alerts/{alert_id}")
        en = console.get(f"/console/alerts/{alert_id}?lang=en")
    assert zh.status_code == 200, zh.text
    panel = zh.text[zh.text.index('id="h-providers"') :]
    assert "各服务商" in panel
    assert re.search(r'data-provider="acme">\s*<th scope="row">acme</th>\s*<td>短信 2</td>', panel)
    assert "已暂停（连续出错）" in panel
    assert DOWN in panel
    assert "Paused (repeated errors)" in en.text
    assert "Provider health (last 15 minutes)" in en.text
