"""Drills are marked wherever a person sees them: the visits API, the help queue (API and
duty board) and the recipients export; logins are tied to workers by phone, checked, from the
API, the console's workers tab and the household import."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role, User
from broadcaster.db.database import Database
from broadcaster.errors import Conflict, NotFound, ValidationFailed
from broadcaster.registry.importer import import_households
from broadcaster.registry.logins import create_worker_login
from broadcaster.registry.models import Worker, WorkerRole
from broadcaster.settings import Settings
from broadcaster.web.i18n import translations
from broadcaster.web.templating import TEMPLATES
from tests.api_fixtures import auth
from tests.cli import run_cli
from tests.factories import alerts as fa
from tests.factories import registry as f
from tests.factories.import_files import HEADER, csv_bytes, household_row
from tests.integration.console_support import login, users
from tests.integration.test_console_i18n import CALL


def test_a_drill_is_marked_on_visits_help_and_exports(
    client: TestClient, db: Database, settings: Settings
) -> None:
    users(db)
    with db.transaction() as session:
        zones = f.zone_tree(session)
        worker = f.worker(session, name="王网格", role=WorkerRole.field)
        home = f.household(session, grid=zones["G1"], vulnerability=("bedridden",))
        home.worker_id = worker.id
        user, _w = create_worker_login(
            session, username="wang", role="field", worker_phone=worker.phone, actor=SYSTEM
        )
        _row, key = auth_service.create_api_key(session, user=user, actor=SYSTEM)
    alert = fa.issue(db, settings, zones=["V1"], status="exercise").alert
    visits = client.get("/api/v1/visits", headers=auth(key)).json()
    assert [(v["exercise"], v["worker_name"], v["worker_phone"]) for v in visits] == [
        (True, "王网格", worker.phone)
    ]
    found = client.post(
        f"/api/v1/visits/{visits[0]['id']}/outcome",
        json={"outcome": "needs_help", "notes": "需要送医", "client_id": "drill-door-01"},
        headers=auth(key),
    )
    assert found.status_code == 200, found.text
    assert found.json()["help_request_id"] is not None

    login(client, "officer")
    queue = client.get("/api/v1/help-requests").json()
    assert [(h["exercise"], h["via"], h["text"], h["by_name"]) for h in queue] == [
        (True, "visit", "需要送医", "王网格")
    ]
    board = client.get("/console").text
    assert "需要送医" in board
    assert 'class="badge drill"' in board.split('id="h-help"')[1].split("</ul>")[0]
    export = client.get(f"/console/alerts/{alert.id}/recipients.csv")
    assert f"drill-alert-{alert.id}" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][-1] == "演练"
    assert rows[1][-1] == "是"


def test_worker_logins_are_checked(db: Database) -> None:
    with db.transaction() as session:
        field = f.worker(session, name="王网格", role=WorkerRole.field)
        speaker = f.worker(session, name="张华成", role=WorkerRole.operator)
        national = field.phone.removeprefix("+86")
        user, linked = create_worker_login(
            session, username="wang", role="field", worker_phone=national, actor=SYSTEM
        )
        assert linked is not None
        assert (linked.id, user.display_name) == (field.id, "王网格")
        with pytest.raises(Conflict):  # one login per worker
            create_worker_login(
                session, username="wang2", role="field", worker_phone=national, actor=SYSTEM
            )
        with pytest.raises(ValidationFailed):  # an operator is not a lead
            create_worker_login(
                session, username="zhang", role="lead", worker_phone=speaker.phone, actor=SYSTEM
            )
        with pytest.raises(ValidationFailed):  # nor a field worker
            create_worker_login(
                session, username="zhang", role="field", worker_phone=speaker.phone, actor=SYSTEM
            )
        with pytest.raises(NotFound):
            create_worker_login(
                session, username="nobody", role="field", worker_phone="13912345678", actor=SYSTEM
            )
        assert session.scalar(select(Worker.user_id).where(Worker.id == speaker.id)) is None
        assert user.role is Role.field


def test_the_workers_tab_makes_a_login_for_a_worker(client: TestClient, db: Database) -> None:
    users(db)
    with db.transaction() as session:
        f.zone_tree(session)
        lead = f.worker(session, name="赵组长", role=WorkerRole.lead)
        phone = lead.phone
    token = login(client, "admin")
    tab = client.get("/console/registry?tab=workers").text
    assert 'data-api="/api/v1/users"' in tab
    assert f'name="worker" value="{phone}"' in tab
    body = {"username": "zhao", "role": "lead", "worker": phone, "password": "lead-password-1"}
    made = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    assert (made.json()["role"], made.json()["worker_name"]) == ("field", "赵组长")
    tab = client.get("/console/registry?tab=workers").text
    assert '<span class="code">zhao</span>' in tab
    again = client.post(
        "/api/v1/users", json={**body, "username": "zhao2"}, headers={"X-CSRF-Token": token}
    )
    assert again.status_code == 409


def test_a_household_import_makes_the_named_worker_logins(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        f.zone_tree(session)
    header = [*HEADER, "包保责任人账号 worker_login"]
    rows = [
        [*household_row("L1", worker_name="李网格", worker_phone="13900139001"), "li.wangge"],
        [*household_row("L2", worker_name="李网格", worker_phone="13900139001"), "li.wangge"],
        [*household_row("L3", worker_name="周网格", worker_phone="13900139002"), "bad login!"],
    ]
    with db.transaction() as session:
        report = import_households(
            session, data=csv_bytes(rows, header=header), filename="h.csv", actor=SYSTEM
        )
    assert report.created == 2
    assert [p.column for p in report.problems] == ["worker_login"]
    assert any("li.wangge" in note for note in report.warnings)
    with db.read() as session:
        worker = session.scalars(select(Worker).where(Worker.phone == "+8613900139001")).one()
        user = session.get_one(User, worker.user_id)
    assert (user.username, user.role, user.display_name) == ("li.wangge", Role.field, "李网格")
    set_password = run_cli(db.url, tmp_path, "users", "password", "li.wangge")
    assert "password:" in set_password


def test_field_and_operator_pages_have_their_english() -> None:
    tr = translations("en")
    for name in ("field.html", "operator.html", "console_part_reg_lists.html"):
        strings = CALL.findall((TEMPLATES / name).read_text(encoding="utf-8"))
        assert [s for s in strings if tr.gettext(s) == s] == [], name


def test_needs_help_after_the_request_was_handled_opens_it_again(
    client: TestClient, db: Database, settings: Settings
) -> None:
    with db.transaction() as session:
        zones = f.zone_tree(session)
        worker = f.worker(session, name="王网格", role=WorkerRole.field)
        f.household(session, grid=zones["G1"], vulnerability=("disabled",)).worker_id = worker.id
        user, _w = create_worker_login(
            session, username="wang", role="field", worker_phone=worker.phone, actor=SYSTEM
        )
        _row, key = auth_service.create_api_key(session, user=user, actor=SYSTEM)
        officer = auth_service.create_user(
            session, username="duty", role=Role.officer, actor=SYSTEM
        )
        _row, duty = auth_service.create_api_key(session, user=officer, actor=SYSTEM)
    fa.issue(db, settings, zones=["V1"])
    task = client.get("/api/v1/visits", headers=auth(key)).json()[0]["id"]
    url = f"/api/v1/visits/{task}/outcome"
    first = client.post(url, json={"outcome": "needs_help", "client_id": "help-0001"},
                        headers=auth(key))  # fmt: skip
    request_id = first.json()["help_request_id"]
    handled = client.post(
        f"/api/v1/help-requests/{request_id}/handle", json={"note": "已送医"}, headers=auth(duty)
    )
    assert handled.status_code == 200, handled.text
    assert client.get("/api/v1/help-requests", headers=auth(duty)).json() == []
    again = client.post(
        url, json={"outcome": "needs_help", "notes": "又摔倒了", "client_id": "help-0002"},
        headers=auth(key),
    )  # fmt: skip
    assert (again.json()["moved_on"], again.json()["help_request_id"]) == ("done", request_id)
    [reopened] = client.get("/api/v1/help-requests", headers=auth(duty)).json()
    assert (reopened["text"], reopened["handled_at"]) == ("又摔倒了", None)
    assert "已送医" in reopened["note"]
