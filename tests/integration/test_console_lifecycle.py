"""The console through an alert's life: the approver reads the whole text of a held alert, the
alert page offers its changes and lists its revisions, a finished drill is done (off the
board, not "in progress"), and every time is shown in the district's time zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from broadcaster.alerts.clock import spoken
from broadcaster.alerts.models import Alert
from broadcaster.app import create_app
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.reports.export import local_time
from broadcaster.settings import Settings
from broadcaster.web.console.common import Format
from tests.factories import alerts as fa
from tests.integration.console_support import login, seed, users


def test_the_approver_reads_the_full_text_and_the_alert_page_offers_its_changes(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seeded = seed(db, settings)
    held = fa.issue(db, settings, zones=["V1"], body="山洪可能暴发。", instruction="立即上山。")
    with db.transaction() as session:
        session.execute(
            update(Alert).where(Alert.id == held.alert.id).values(state="pending_approval")
        )
    login(client, "officer")
    approvals = client.get("/console/fragments/approvals").text
    assert "山洪可能暴发。" in approvals
    assert "立即上山。" in approvals
    page = client.get(f"/console/alerts/{seeded.alert_id}").text
    assert 'data-change="/api/v1/alerts/' in page
    assert "预警全文" in page
    assert "user:" not in page
    token = login(client, "officer")
    changed = client.post(
        f"/api/v1/alerts/{seeded.alert_id}/update",
        json={"level": "red", "evacuate": True},
        headers={"X-CSRF-Token": token},
    )
    assert changed.status_code == 200, changed.text
    page = client.get(f"/console/alerts/{seeded.alert_id}").text
    assert "各版本" in page
    assert "户重新确认" in page  # the timeline line of the update
    english = client.get(f"/console/alerts/{seeded.alert_id}?lang=en").text
    assert "Evacuation order" in english
    assert "Revisions" in english


def test_a_finished_drill_is_done_and_leaves_the_board(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seed(db, settings)
    drill = fa.issue(db, settings, zones=["V1"], status="exercise", headline="演练：山洪转移")
    login(client, "officer")
    assert "演练：山洪转移" in client.get("/console").text
    with db.transaction() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == drill.alert.id)
            .values(state="active", completed_at=utcnow() - dt.timedelta(hours=1))
        )
    assert "演练：山洪转移" not in client.get("/console").text
    listed = client.get("/console/alerts").text
    assert "演练已完成" in listed
    report = client.get(f"/console/alerts/{drill.alert.id}/report").text
    header = report.split('<p class="meta">')[1].split("</p>")[0]
    assert "演练已完成" in header
    assert "进行中" not in header


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Urumqi"])
def test_times_people_read_are_in_the_district_time_zone(zone: str) -> None:
    from zoneinfo import ZoneInfo

    moment = dt.datetime(2024, 12, 3, 18, 11, 55, tzinfo=dt.UTC)
    hours = {"Asia/Shanghai": "02:11", "Asia/Urumqi": "00:11"}[zone]
    assert Format(ZoneInfo(zone)).stamp(moment) == f"2024-12-04 {hours}:55"
    assert local_time(moment, ZoneInfo(zone)) == f"2024-12-04 {hours}:55"
    assert spoken(moment, ZoneInfo(zone), "zh-CN") == f"12月4日{hours[:2]}时11分"


def test_the_console_uses_the_configured_time_zone(db: Database, tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="http://testserver",
        time_zone="Asia/Urumqi",
    )
    users(db)
    seeded = seed(db, settings)
    issued = dt.datetime(2024, 12, 3, 18, 11, 55, tzinfo=dt.UTC)
    with db.transaction() as session:
        session.execute(update(Alert).where(Alert.id == seeded.alert_id).values(issued_at=issued))
    with TestClient(create_app(settings, db)) as client:
        login(client, "officer")
        page = client.get(f"/console/alerts/{seeded.alert_id}").text
    assert "2024-12-04 00:11:55" in page  # UTC+6, as configured
    with pytest.raises(ValueError, match="unknown time zone"):
        Settings(env="test", time_zone="Mars/Olympus")
