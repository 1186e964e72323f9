"""Per-number limits shared across workers: two worker processes send one alert's messages to
one number through a provider that declares 1 a "minute" (2 s here) and 3 an hour.
No more than the limit goes out, the rest waits — deferred with the reason on the delivery,
never dropped — and goes when its window ends."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

import redis
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from broadcaster.alerts.models import Alert
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.limits import with_number_limits
from broadcaster.delivery.models import Delivery, DeliveryAttempt, DeliveryState
from broadcaster.delivery.ratelimit import AddressLimit
from broadcaster.settings import Settings
from channels.base import Limits
from tests.factories import registry as f
from tests.factories.alerts import RED_RAIN
from tests.integration.console_support import login, seed, users
from tests.integration.templated_support import acme_sms, config_with_book
from tests.stack import running_stack, wait_until

__all__ = ["acme_sms"]  # the fixture, used by name
NUMBER = "+8613700009999"
SHARERS = 6  # households giving the same number (a village head's phone, say)
PER_HOUR = 3


def delivery_rows(db: Database) -> list[Any]:
    with db.read() as session:
        return list(
            session.execute(
                select(Delivery.id, Delivery.state, Delivery.error_code, Delivery.not_before)
                .where(Delivery.channel == "sms")
                .order_by(Delivery.id)
            )
        )


def settled(db: Database) -> bool:
    """PER_HOUR sent; the rest queued, deferred by the hour window with the reason."""
    rows = delivery_rows(db)
    later = utcnow() + dt.timedelta(minutes=30)
    sent = [r for r in rows if r.state is DeliveryState.sent]
    waiting = [
        r
        for r in rows
        if r.state is DeliveryState.queued
        and r.error_code == "number_limit"
        and r.not_before is not None
        and r.not_before > later
    ]
    return len(sent) == PER_HOUR and len(waiting) == SHARERS - PER_HOUR


def test_two_workers_keep_one_numbers_limit_and_defer_the_rest(
    acme_sms: Path, db: Database, redis_settings: Settings, tmp_path: Path
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        for _ in range(SHARERS):
            f.household(session, grid=zones["G1"], phones=(NUMBER,))
    options = {"sms_acme": {"per_minute": 1, "per_hour": PER_HOUR}}
    windows = {"minute_seconds": 2, "hour_seconds": 3600, "day_seconds": 86400}
    with (
        running_stack(
            db,
            redis_settings,
            tmp_path / "s",
            config_dir=config_with_book(tmp_path),
            channel_options=options,
            batch_size=1,  # one job per message: both workers take them at once
            number_windows=windows,
        ) as stack,
        stack.client() as api,
    ):
        stack.env["BROADCASTER_MEDIA"] = json.dumps({"sms": ["acme"]})
        body = {**RED_RAIN, "level": "orange", "zones": ["V1"]}
        created = api.post("/api/v1/alerts", json=body)
        assert created.status_code == 201, created.text
        stack.start_worker()
        stack.start_worker(scheduler=False)
        wait_until(lambda: settled(db), timeout=120)
        counts = api.get(f"/api/v1/alerts/{created.json()['id']}").json()["counts"]

    assert counts["deliveries"]["sms"]["by_state"] == {"sent": PER_HOUR, "queued": 3}
    acme = counts["by_provider"]["acme"]
    assert (acme["carried"], acme["failed"], acme["media"]) == (PER_HOUR, 0, {"sms": PER_HOUR})
    with db.read() as session:
        attempts = session.execute(
            select(
                DeliveryAttempt.delivery_id,
                DeliveryAttempt.provider,
                DeliveryAttempt.outcome,
                DeliveryAttempt.error_code,
            ).order_by(DeliveryAttempt.requested_at, DeliveryAttempt.number)
        ).all()
        alert = session.get_one(Alert, created.json()["id"])
        assert alert.households_targeted == SHARERS
    assert {a.provider for a in attempts} == {"acme"}
    assert {a.outcome for a in attempts} <= {DeliveryState.sent, DeliveryState.superseded}
    deferred = [a for a in attempts if a.outcome is DeliveryState.superseded]
    assert deferred
    assert {a.error_code for a in deferred} == {"number_limit"}
    sent = [a.delivery_id for a in attempts if a.outcome is DeliveryState.sent]
    assert len(sent) == PER_HOUR  # never more, whichever worker sent them
    # messages held back by the minute window went once it ended
    assert set(sent) & {a.delivery_id for a in deferred}


def test_a_batch_is_counted_in_order_and_a_refusal_counts_nowhere(
    redis_url: str, queue_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"{queue_prefix}:limits-{secrets.token_hex(3)}"
    hour = (3600.0, 3600.0, 3600.0)
    pair = AddressLimit(client, f"{prefix}:a", per_minute=2, per_hour=None, windows=hour)
    first = pair.admit_many(["n1", "n1", "n1", "n2"])
    assert [w == 0 for w in first] == [True, True, False, True]
    assert first[2] > 3000  # until the minute (an hour here) ends
    assert pair.admit("n1") > 0
    assert client.exists(f"{prefix}:a:n1:h", f"{prefix}:a:n1:d") == 0  # undeclared: not kept
    daily = AddressLimit(client, f"{prefix}:d", per_minute=5, per_hour=5, per_day=2, windows=hour)
    assert [w == 0 for w in daily.admit_many(["n1"] * 4)] == [True, True, False, False]
    assert client.get(f"{prefix}:d:n1:m") == b"2"  # the refused ones were not counted
    assert client.get(f"{prefix}:d:n1:h") == b"2"


def test_a_send_that_never_went_is_given_back_to_the_window_it_was_counted_in(
    redis_url: str, queue_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"{queue_prefix}:limits-{secrets.token_hex(3)}"
    hour = (3600.0, 3600.0, 3600.0)
    numbers = AddressLimit(client, prefix, per_minute=1, per_hour=5, windows=hour)
    [(wait, refused)] = numbers.count_many(["n1"])
    assert wait == 0
    assert refused is not None
    assert numbers.admit("n1") > 0  # counted: the minute is taken
    numbers.release([refused])  # the provider refused it: nothing went
    assert client.exists(f"{prefix}:n1:m", f"{prefix}:n1:h") == 0  # nothing left to count
    [(wait, sent)] = numbers.count_many(["n1"])  # the next provider may send at once
    assert wait == 0
    assert sent is not None
    assert numbers.admit("n1") > 0
    # a window that ended is not given back to: the next window is another count
    short = AddressLimit(client, f"{prefix}:s", per_minute=1, per_hour=None, windows=(0.3, 1, 1))
    [(_, old)] = short.count_many(["n2"])
    assert old is not None
    wait_until(lambda: short.admit("n2") == 0, timeout=10, every=0.05)  # a new window, counted
    short.release([old])
    assert short.admit("n2") > 0  # still full: the old send's refund did not empty it


def test_a_numbers_windows_are_the_tightest_of_the_mediums_providers(
    acme_sms: Path, tmp_path: Path
) -> None:
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        media={"sms": ["twilio", "acme"]},  # Twilio sends; Acme is the fallback
        channel_options={"sms_acme": {"per_minute": 1, "per_hour": 4, "per_day": 9}},
    )
    own = Limits(per_hour=2, why="自己的理由 / own reason")
    got = with_number_limits(settings, "sms", False, own)
    assert (got.per_minute, got.per_hour, got.per_day, got.why) == (1, 2, 9, own.why)
    assert with_number_limits(settings, "email", False, Limits()) == Limits()


def test_the_household_page_says_why_a_delivery_waits(
    client: TestClient, db: Database, settings: Settings
) -> None:
    seeded = seed(db, settings, households=2)
    users(db)
    with db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.address == seeded.people[0].phone)
            .values(state=DeliveryState.queued, error_code="number_limit")
        )
    login(client, "officer")
    url = f"/console/alerts/{seeded.alert_id}/households/{seeded.household_codes[0]}"
    assert "每号码发送限额已满，到时自动发送" in client.get(url).text
    english = client.get(url + "?lang=en").text
    assert "Per-number limit reached; goes automatically when the window ends" in english
