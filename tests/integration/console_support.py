"""Helpers of the console tests (no tests here): users, sign-in, CSRF token, a seeded alert."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import select

from broadcaster.alerts.tokens import make_token
from broadcaster.auth import cookies as web_session
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import Role
from broadcaster.db.database import Database
from broadcaster.registry.models import Person
from broadcaster.settings import Settings
from tests.factories import alerts as fa
from tests.factories import registry as f

PASSWORD = "console-test-password"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass(frozen=True)
class Seeded:
    alert_id: int
    people: list[Person]
    household_codes: list[str]


def users(db: Database) -> None:
    """One console user per role: officer, officer2, admin, operator, field."""
    with db.transaction() as session:
        for name, role in (
            ("officer", Role.officer),
            ("officer2", Role.officer),
            ("admin", Role.admin),
            ("operator", Role.operator),
            ("field", Role.field),
        ):
            auth_service.create_user(
                session, username=name, role=role, password=PASSWORD, actor=SYSTEM
            )


def login(client: TestClient, username: str) -> str:
    """Sign in through the form; returns the session's CSRF token (as the pages carry it)."""
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    secret = settings.secret_key.get_secret_value().encode()
    session = web_session.read(secret, client.cookies.get(web_session.COOKIE))
    assert session is not None
    token = session.csrf_token(secret)
    if username.startswith(("officer", "admin")):  # the console pages carry the same token
        found = CSRF.search(client.get("/console/compose").text)
        assert found is not None
        assert found.group(1) == token
    return token


def seed(db: Database, settings: Settings, households: int = 6) -> Seeded:
    """The factory zone tree (D → T1 → V1 → G1, G2; H1), households in both grids (every
    third one vulnerable, the first two in the hazard zone), and an SMS alert to V1."""
    with db.transaction() as session:
        zones = f.zone_tree(session)
        codes = []
        for n in range(households):
            home = f.household(
                session,
                grid=zones["G1" if n % 2 == 0 else "G2"],
                phones=(f"+8613800{n:06d}",),
                vulnerability=("elderly_alone",) if n % 3 == 0 else (),
                hazard_zones=(zones["H1"],) if n < 2 else (),
            )
            codes.append(home.code)
    alert_id = fa.issue(db, settings, zones=["V1", "H1"]).alert.id
    with db.read() as session:
        people = list(session.scalars(select(Person).order_by(Person.id)))
        session.expunge_all()
    return Seeded(alert_id, people, codes)


def confirm_link(settings: Settings, alert_id: int, person: Person) -> str:
    return f"/c/{make_token(settings.secret_key.get_secret_value().encode(), alert_id, person.id)}"
