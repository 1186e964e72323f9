"""Console pages: who may see them, what they show, exports with masked phones, English."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from broadcaster.alerts.models import Recipient, RecipientState
from broadcaster.auth.models import AuditEvent
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.registry.models import Zone
from broadcaster.settings import Settings
from tests.integration.console_support import confirm_link, login, seed, users

PAGES = (
    "/console",
    "/console/compose",
    "/console/alerts",
    "/console/alerts/{alert}",
    "/console/alerts/{alert}?status=unconfirmed&vulnerable=1&zone=G1&page=1",
    "/console/alerts/{alert}/coverage",
    "/console/alerts/{alert}/households/{household}",
    "/console/alerts/{alert}/report",
    "/console/registry",
    "/console/registry?tab=zones",
    "/console/registry?tab=groups",
    "/console/registry?tab=speakers",
    "/console/registry?tab=workers",
    "/console/registry/households/{household}",
    "/console/fragments/alerts",
    "/console/fragments/help",
    "/console/fragments/approvals",
    "/console/fragments/speakers",
    "/console/fragments/coverage?alert={alert}",
    "/console/alerts/{alert}/coverage/{village}",
    "/console/compose/zones/{village}",
    "/console/alerts/{alert}/situation",
    "/console/alerts/{alert}/situation?unit=一镇人民政府",
    "/console/situation",
    "/console/situation?since=2026-01-01T00:00&drills=true",
    "/console/duty",
    "/console/audit",
    "/console/audit?alert={alert}",
    "/console/fragments/shift",
)


def _urls(db: Database, settings: Settings) -> list[str]:
    seeded = seed(db, settings)
    with db.read() as session:
        village = session.scalar(select(Zone.id).where(Zone.code == "V1"))
    ids = {"alert": seeded.alert_id, "household": seeded.household_codes[0], "village": village}
    return [page.format(**ids) for page in PAGES]


def test_every_page_renders_for_officers_and_admins(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    urls = _urls(db, settings)
    for username in ("officer", "admin"):
        login(client, username)
        for url in urls:
            answer = client.get(url)
            assert answer.status_code == 200, (username, url, answer.text[:500])
            assert "Traceback" not in answer.text
        client.cookies.clear()


@pytest.mark.parametrize("username", ["operator", "field"])
def test_other_roles_are_refused(
    client: TestClient, db: Database, settings: Settings, username: str
) -> None:
    users(db)
    urls = _urls(db, settings)
    login(client, username)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.get("/console/events").status_code == 403


def test_strangers_are_sent_to_the_login_form(
    client: TestClient, db: Database, settings: Settings
) -> None:
    urls = _urls(db, settings)
    for url in [*urls, "/console/events", "/console/alerts/1/recipients.csv"]:
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303, url
        assert answer.headers["location"].startswith("/login?next=/console")
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_dashboard_shows_funnel_coverage_help_and_speakers(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seeded = seed(db, settings)
    assert client.post(confirm_link(settings, seeded.alert_id, seeded.people[0]),
                       data={"answer": "needs_help"}).status_code == 200  # fmt: skip
    assert client.post(confirm_link(settings, seeded.alert_id, seeded.people[1]),
                       data={"answer": "safe"}).status_code == 200  # fmt: skip
    login(client, "officer")
    assert client.get("/", follow_redirects=False).headers["location"] == "/console"
    board = client.get("/console").text
    assert f'data-funnel="{seeded.alert_id}"' in board
    assert '<span class="n" data-key="targeted">6</span>' in board
    assert '<span class="n ok" data-key="confirmed">1</span>' in board
    assert '<span class="n bad" data-key="needs_help">1</span>' in board
    assert '<span class="big" data-key="percent">33.3</span>' in board
    # coverage: district, township, village rolled up from the grids; the hazard zone too
    for code in ("D", "T1", "V1", "H1"):
        assert f'<span class="code">{code}</span>' in board
    assert "/api/v1/help-requests/" in board  # the help queue's "handled" action
    assert seeded.household_codes[0] in board
    with db.read() as session:
        village = session.scalar(select(Zone.id).where(Zone.code == "V1"))
    grids = client.get(f"/console/alerts/{seeded.alert_id}/coverage/{village}").text
    assert "G1" in grids
    assert "G2" in grids


def test_recipient_filters_and_paging(client: TestClient, db: Database, settings: Settings) -> None:
    users(db)
    seeded = seed(db, settings, households=60)
    with db.transaction() as session:
        session.execute(
            update(Recipient)
            .where(Recipient.alert_id == seeded.alert_id, Recipient.id % 2 == 0)
            .values(state=RecipientState.confirmed, final_at=utcnow())
        )
    login(client, "officer")
    url = f"/console/alerts/{seeded.alert_id}"
    assert '<span class="count">60</span>' in client.get(url).text
    assert '<span class="count">30</span>' in client.get(url + "?status=unconfirmed").text
    assert '<span class="count">20</span>' in client.get(url + "?vulnerable=1").text
    assert '<span class="count">30</span>' in client.get(url + "?zone=G2").text
    assert "1 / 2" in client.get(url).text
    assert "2 / 2" in client.get(url + "?page=2").text
    unknown = client.get(url + "?zone=NOPE")
    assert unknown.status_code == 200
    assert "NOPE" in unknown.text
    assert "138****0001" in client.get(url).text  # masked unless asked for


def test_exports_mask_phones_unless_asked_and_are_audited(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seeded = seed(db, settings)
    login(client, "officer")
    base = f"/console/alerts/{seeded.alert_id}/recipients"
    masked = client.get(base + ".csv")
    assert masked.status_code == 200
    assert masked.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(masked.content.decode("utf-8-sig"))))
    assert len(rows) == 7
    assert rows[0][0].startswith("户编号")
    phones = [r[8] for r in rows[1:]]
    assert all("****" in p and not p.startswith("+86") for p in phones), phones
    full = client.get(base + ".csv?phones=full")
    assert "+8613800000000" in full.text
    sheet = client.get(base + ".xlsx?status=unconfirmed&vulnerable=1")
    assert sheet.status_code == 200
    book = load_workbook(io.BytesIO(sheet.content), read_only=True)
    values = list(next(iter(book.worksheets)).iter_rows(values_only=True))
    assert len(values) == 1 + 2  # header + the two vulnerable households
    report = client.get(f"/console/alerts/{seeded.alert_id}/report.xlsx")
    assert load_workbook(io.BytesIO(report.content), read_only=True).sheetnames[0] == "概要 summary"
    with db.read() as session:
        exports = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "alert.export")
                .order_by(AuditEvent.id)
            )
        )
    assert [(e.actor, e.detail["format"], e.detail["phones"]) for e in exports] == [
        ("user:officer", "csv", "masked"),
        ("user:officer", "csv", "full"),
        ("user:officer", "xlsx", "masked"),
    ]


def test_english_pages_come_from_the_catalog(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seeded = seed(db, settings)
    login(client, "officer")
    board = client.get("/console?lang=en").text
    assert "Active alerts" in board
    assert "进行中的预警" not in board
    assert "Send alert" in client.get("/console/compose").text  # the choice is kept
    assert "After-action report" in client.get(f"/console/alerts/{seeded.alert_id}").text
    assert "进行中的预警" in client.get("/console?lang=zh-CN").text
