"""Console writes: without the session's CSRF token, or by a role without permission, every
form and every cookie-authenticated API write is refused and changes nothing."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import func, select

from broadcaster.alerts.models import Alert, AlertSource, AlertState
from broadcaster.alerts.schemas import AlertIn
from broadcaster.auth.audit import Actor
from broadcaster.auth.models import AuditEvent
from broadcaster.confirm.models import HelpRequest
from broadcaster.db.database import Database
from broadcaster.flows.issuing import issue_alert
from broadcaster.registry.models import Household
from broadcaster.settings import Settings
from tests.factories.alerts import RED_RAIN
from tests.integration.console_support import confirm_link, login, seed, users


def household(db: Database, code: str) -> tuple[str, list[str], bool]:
    with db.read() as session:
        row = session.scalar(select(Household).where(Household.code == code))
        assert row is not None
        return row.notes, list(row.vulnerability), row.is_vulnerable


def audit_count(db: Database, action: str) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


def test_household_edit_needs_the_token_and_a_console_role(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    code = seed(db, settings).household_codes[1]
    before = household(db, code)
    url = f"/console/registry/households/{code}"
    form = {"notes": "轮椅，需两人搀扶", "vulnerability": ["disabled", "bedridden"]}

    token = login(client, "operator")
    assert client.post(url, data={**form, "csrf": token}).status_code == 403
    client.cookies.clear()
    token = login(client, "officer")
    assert client.post(url, data=form).status_code == 403  # no token
    assert client.post(url, data={**form, "csrf": "forged"}).status_code == 403
    bad = client.post(url, data={**form, "csrf": token, "vulnerability": ["dragon"]})
    assert bad.status_code == 422
    assert "dragon" in bad.text
    assert household(db, code) == before
    assert audit_count(db, "household.edit") == 0

    page = client.get(url).text
    version = page.split('name="version" value="')[1].split('"')[0]
    saved = client.post(url, data={**form, "csrf": token, "version": version})
    assert saved.status_code == 200
    assert "已保存" in saved.text
    assert household(db, code) == ("轮椅，需两人搀扶", ["disabled", "bedridden"], True)
    stale = client.post(url, data={**form, "csrf": token, "version": version, "notes": "x"})
    assert stale.status_code == 409  # someone (here: we) changed it since that page
    assert household(db, code)[0] == "轮椅，需两人搀扶"
    assert audit_count(db, "household.edit") == 1


def _registry_file() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["户编号 household_code", "户主姓名 head_name", "地址 address",
                  "所属网格 grid_code", "联系电话 phones"])  # fmt: skip
    sheet.append(["NEW-001", "新户", "一村9号", "G1", "13900139000"])
    sheet.append(["NEW-002", "坏户", "一村10号", "NOPE", "12345"])
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def test_import_is_for_administrators_with_the_token(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seed(db, settings)

    def households() -> int:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(Household)) or 0)

    files = {"file": ("registry.xlsx", _registry_file())}
    token = login(client, "officer")
    refused = client.post("/console/registry/import", data={"csrf": token}, files=files)
    assert refused.status_code == 403  # officers may not import
    client.cookies.clear()
    token = login(client, "admin")
    assert client.post("/console/registry/import", files=files).status_code == 403
    assert households() == 6
    done = client.post("/console/registry/import", data={"csrf": token}, files=files)
    assert done.status_code == 200
    assert households() == 7
    page = done.text
    assert "registry.xlsx" in page
    # row 3, the bad grid, named as the file named the column
    assert 'class="num">3</td><td>所属网格 grid_code</td>' in page
    assert "未知网格编号" in page  # the page's language only (English with ?lang=en)
    assert "无效电话号码" in page


def test_api_writes_from_the_console_need_the_csrf_header(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seeded = seed(db, settings)
    assert client.post(confirm_link(settings, seeded.alert_id, seeded.people[0]),
                       data={"answer": "needs_help"}).status_code == 200  # fmt: skip
    token = login(client, "officer")
    with db.read() as session:
        help_id = session.scalar(select(HelpRequest.id))

    def alert_state(alert_id: int) -> AlertState:
        with db.read() as session:
            alert = session.get(Alert, alert_id)
            assert alert is not None
            return alert.state

    def handled() -> bool:
        with db.read() as session:
            request = session.get(HelpRequest, help_id)
            return request is not None and request.handled_at is not None

    cancel = f"/api/v1/alerts/{seeded.alert_id}/cancel"
    handle = f"/api/v1/help-requests/{help_id}/handle"
    assert client.post(cancel).status_code == 403
    assert client.post(cancel, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post(handle, json={"note": "已电话联系"}).status_code == 403
    assert alert_state(seeded.alert_id) is AlertState.sending
    assert not handled()
    header = {"X-CSRF-Token": token}
    assert client.post(handle, json={"note": "已电话联系"}, headers=header).status_code == 200
    assert handled()
    assert client.post(cancel, headers=header).status_code == 200
    assert alert_state(seeded.alert_id) is AlertState.cancelled


def test_sending_and_approving_from_the_console(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    seed(db, settings)
    body = {**RED_RAIN, "zones": ["V1"], "status": "exercise"}
    token = login(client, "officer")

    def alerts() -> int:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(Alert)) or 0)

    before = alerts()
    key = {"Idempotency-Key": "console-test-key-1"}
    assert client.post("/api/v1/alerts", json=body, headers=key).status_code == 403
    assert alerts() == before
    headers = {**key, "X-CSRF-Token": token}
    sent = client.post("/api/v1/alerts", json=body, headers=headers)
    assert sent.status_code == 201, sent.text
    again = client.post("/api/v1/alerts", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == sent.json()["id"]
    assert alerts() == before + 1

    # a feed's red alert waits for an officer; the board lists it with approve / reject
    with db.transaction() as session:
        held = issue_alert(
            session,
            body=AlertIn.model_validate({**RED_RAIN, "zones": ["V1"]}),
            actor=Actor("user:feed"),
            source=AlertSource.feed,
            settings=settings,
            available_channels={"sms"},
        ).alert.id
    assert f"/api/v1/alerts/{held}/approve" in client.get("/console/fragments/approvals").text
    approve = f"/api/v1/alerts/{held}/approve"
    assert client.post(approve).status_code == 403
    with db.read() as session:
        assert session.get(Alert, held).state is AlertState.pending_approval  # type: ignore[union-attr]
    assert client.post(approve, headers={"X-CSRF-Token": token}).status_code == 200
    with db.read() as session:
        assert session.get(Alert, held).state is AlertState.sending  # type: ignore[union-attr]


def test_preview_audio_needs_the_token_and_renders_mp3(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    token = login(client, "officer")
    text = {k: RED_RAIN[k] for k in ("hazard", "level", "headline", "body", "instruction")}
    assert client.post("/console/compose/audio", json=text).status_code == 403
    bad = client.post("/console/compose/audio", json={**text, "level": "purple"},
                      headers={"X-CSRF-Token": token})  # fmt: skip
    assert bad.status_code == 422
    audio = client.post("/console/compose/audio", json=text, headers={"X-CSRF-Token": token})
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/mpeg"
    assert audio.content[:3] == b"ID3" or audio.content[:2] in (b"\xff\xfb", b"\xff\xf3")
    assert len(audio.content) > 10_000
