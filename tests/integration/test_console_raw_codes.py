"""No raw code reaches a person: the zh-CN console pages and the exports (XLSX, CSV) show every
state, channel, role, answer, phone type and vulnerability in words (issue 15)."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from broadcaster.alerts.models import (
    AlertState,
    AlertStatus,
    Hazard,
    Level,
    RecipientState,
    RevisionKind,
)
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role, User
from broadcaster.confirm.models import Answer, ConfirmVia
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.delivery.models import Delivery, DeliveryState, TaskState
from broadcaster.followup.models import VisitOutcome, VisitState
from broadcaster.registry.models import GroupKind, Household, PhoneKind, WorkerRole, ZoneKind
from broadcaster.relay.models import RelayState
from broadcaster.settings import Settings
from channels.registry import registered
from tests.factories import import_files as imports
from tests.factories import registry as f
from tests.integration.console_support import PASSWORD, login
from tests.integration.test_confirm import sms

ENUMS = (
    RecipientState,
    DeliveryState,
    VisitState,
    VisitOutcome,
    TaskState,
    RelayState,
    AlertState,
    AlertStatus,
    Level,
    Hazard,
    ConfirmVia,
    Answer,
    WorkerRole,
    Role,
    PhoneKind,
    GroupKind,
    ZoneKind,
    RevisionKind,
)
VULNERABILITY = ("elderly_alone", "disabled", "bedridden", "child_alone", "pregnant", "basement")
SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.S)
TAG = re.compile(r"<[^>]+>")
WORD = re.compile(r"[a-z][a-z_]*(?::[a-z_]+)?")
# Column keys of the import file: the report names a column as the file did (所属网格).
HEADER_CODES = ("household_code", "grid_code", "head_name", "phones")
# Actors and export modes as stored ("user:wang/key:3", "masked").
STORED = ("user", "masked", "full")
CHINESE_HEADER = ("户编号", "户主姓名", "地址", "所属网格", "联系电话", "重点人群")


def codes() -> set[str]:
    found = {m.value for e in ENUMS for m in e} | set(VULNERABILITY) | set(registered())
    found |= set(HEADER_CODES) | set(STORED)
    return found


def visible_text(page: str) -> str:
    """What a person reads: no scripts, styles, tags or attributes."""
    return html.unescape(TAG.sub(" ", SCRIPT.sub(" ", page)))


def raw_codes(texts: Iterable[str]) -> set[str]:
    known = codes()
    found: set[str] = set()
    for text in texts:
        for word in WORD.findall(text):
            if word in known or word.split(":")[0] in known:
                found.add(word)
    return found


def seed(db: Database) -> None:
    with db.transaction() as session:
        for name, role in (("wang", Role.officer), ("li", Role.admin), ("gauge", Role.feed)):
            auth_service.create_user(
                session, username=name, role=role, password=PASSWORD, actor=SYSTEM
            )
        zones = f.zone_tree(session)
        group = f.wecom_group(session, zone=zones["V1"], key="robot-key-0123456789abcdef")
        wechat = imports.group(session, code="WX09", zone=zones["V1"])
        f.worker(session, name="李组长", role=WorkerRole.lead)
        operator = f.worker(session, name="赵喇叭", role=WorkerRole.operator)
        field = f.worker(session, name="张网格", role=WorkerRole.field)
        wechat.owner_worker_id = field.id
        f.loudspeaker(session, zone=zones["V1"], operator=operator)
        for n in range(6):
            home = f.household(
                session,
                grid=zones["G1" if n % 2 else "G2"],
                phones=(f"+8613900{n:06d}", "+862312345678") if n == 0 else (),
                vulnerability=("elderly_alone", "disabled") if n < 2 else (),
                group=group,
            )
            home.worker_id = field.id


def scenario(client: TestClient, db: Database, settings: Settings) -> dict[str, int]:
    """A live red alert with every kind of fact; an all-clear alert; a held one; a drill."""
    seed(db)
    login(client, "wang")
    key = {"Authorization": "Bearer " + api_key(db, "wang")}
    body = {
        "hazard": "rain",
        "level": "orange",
        "headline": "暴雨橙色预警",
        "body": "预计未来6小时降雨量将达50毫米以上。",
        "instruction": "危险区人员做好转移准备。",
        "zones": ["V1"],
    }
    live = client.post("/api/v1/alerts", json=body, headers=key).json()["id"]
    with db.transaction() as session:
        ids = session.scalars(select(Delivery.id).where(Delivery.alert_id == live)).all()
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[:3]))
            .values(state=DeliveryState.delivered, provider_id="SMok", sent_at=utcnow())
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[3:5]))
            .values(state=DeliveryState.failed, error_code="30003", provider_id="SMno")
        )
    phone = "+8613900000000"
    assert sms(client, settings, phone, "2", "SMraw1").status_code == 200
    changed = client.post(
        f"/api/v1/alerts/{live}/update", json={"level": "red", "evacuate": True}, headers=key
    )
    assert changed.status_code == 200, changed.text
    lifted = client.post("/api/v1/alerts", json={**body, "headline": "已解除的预警"}, headers=key)
    lifted_id = lifted.json()["id"]
    with db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.alert_id == lifted_id)
            .values(state=DeliveryState.delivered, provider_id="SMl", sent_at=utcnow())
        )
    assert client.post(f"/api/v1/alerts/{lifted_id}/all-clear", headers=key).is_success
    drill = client.post(
        "/api/v1/alerts", json={**body, "status": "exercise", "headline": "演练预警"}, headers=key
    ).json()["id"]
    with db.transaction() as session:
        session.execute(
            update(Delivery).where(Delivery.alert_id == drill).values(state=DeliveryState.delivered)
        )
    held = client.post(
        "/api/v1/alerts",
        json={**body, "level": "red", "headline": "待审批的红色预警"},
        headers={"Authorization": "Bearer " + api_key(db, "gauge")},
    ).json()
    assert held["state"] == "pending_approval"
    return {"live": live, "lifted": lifted_id, "drill": drill, "held": held["id"]}


def api_key(db: Database, username: str) -> str:
    with db.transaction() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        _row, key = auth_service.create_api_key(session, user=user, actor=SYSTEM)
    return key


def pages(client: TestClient, alerts: dict[str, int]) -> dict[str, str]:
    urls = ["/console", "/console/alerts", "/console/compose", "/console/fragments/approvals"]
    with db_of(client).read() as session:
        first = session.scalars(select(Household.code).order_by(Household.id)).first()
    urls.append(f"/console/registry/households/{first}")  # its people's phone types
    for alert_id in alerts.values():
        urls += [
            f"/console/alerts/{alert_id}",
            f"/console/alerts/{alert_id}/report",
            f"/console/alerts/{alert_id}/coverage",
        ]
    tabs = ("households", "zones", "groups", "speakers", "workers", "import")
    urls += [f"/console/registry?tab={tab}" for tab in tabs]
    shown = {}
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.text[:300])
        shown[url] = answer.text
    return shown


def db_of(client: TestClient) -> Database:
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    return db


def xlsx_text(data: bytes) -> list[str]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return [
        str(cell)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    ]


def import_report(client: TestClient) -> str:
    """An administrator imports a file with Chinese headers and a bad grid on row 3."""
    client.cookies.clear()
    token = login(client, "li")
    rows = [
        ["HH900001", "王大爷", "一村3组", "G1", "13800138001", "独居老人"],
        ["HH900002", "李大娘", "一村4组", "NOPE", "13800138002", ""],
    ]
    data = imports.xlsx_bytes(rows, header=CHINESE_HEADER)
    done = client.post(
        "/console/registry/import", data={"csrf": token}, files={"file": ("户籍表.xlsx", data)}
    )
    assert done.status_code == 200
    assert 'class="num">3</td><td>所属网格</td>' in done.text
    return done.text


def test_no_raw_code_in_the_chinese_console_pages_and_exports(
    client: TestClient, db: Database, settings: Settings
) -> None:
    alerts = scenario(client, db, settings)
    found: dict[str, set[str]] = {}
    for url, page in pages(client, alerts).items():
        if codes_here := raw_codes([visible_text(page)]):
            found[url] = codes_here
    for alert_id in alerts.values():
        for url in (
            f"/console/alerts/{alert_id}/recipients.xlsx",
            f"/console/alerts/{alert_id}/report.xlsx",
        ):
            answer = client.get(url)
            assert answer.status_code == 200, url
            if codes_here := raw_codes(xlsx_text(answer.content)):
                found[url] = codes_here
        csv_text = client.get(f"/console/alerts/{alert_id}/recipients.csv").content
        if codes_here := raw_codes([csv_text.decode("utf-8-sig")]):
            found[f"/console/alerts/{alert_id}/recipients.csv"] = codes_here
    if codes_here := raw_codes([visible_text(import_report(client))]):
        found["/console/registry/import"] = codes_here
    assert found == {}, "\n".join(f"{url}: {sorted(c)}" for url, c in found.items())


def test_no_raw_code_in_the_english_console_pages_and_exports(
    client: TestClient, db: Database, settings: Settings
) -> None:
    """In English the words are English, so only the codes' own spelling can betray them: no
    snake_case value (needs_help, elderly_alone, sms_reply) and no "channel:state"."""
    alerts = scenario(client, db, settings)
    client.get("/console?lang=en")  # the language cookie
    telltale = {code for code in codes() if "_" in code}
    found: dict[str, set[str]] = {}
    for url, page in pages(client, alerts).items():
        words = set(WORD.findall(visible_text(page)))
        if bad := {w for w in words if w in telltale or (":" in w and w.split(":")[0] in codes())}:
            found[url] = bad
    for alert_id in alerts.values():
        answer = client.get(f"/console/alerts/{alert_id}/recipients.xlsx")
        words = {w for text in xlsx_text(answer.content) for w in WORD.findall(text)}
        if bad := {w for w in words if w in telltale or ":" in w}:
            found[f"recipients.xlsx {alert_id}"] = bad
    assert found == {}, "\n".join(f"{url}: {sorted(c)}" for url, c in found.items())
