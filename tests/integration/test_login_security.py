"""Sign-in: throttled per account and per address, audited; sessions end on logout,
password change and idling (the old cookie is refused at once)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from broadcaster.app import create_app
from broadcaster.auth import cookies as web_session
from broadcaster.auth import service as auth_service
from broadcaster.auth.audit import SYSTEM
from broadcaster.auth.models import AuditEvent, Role, User
from broadcaster.auth.session_models import LoginThrottle, WebSession
from broadcaster.db.base import utcnow
from broadcaster.db.database import Database
from broadcaster.errors import Unauthenticated
from broadcaster.settings import SecuritySettings, Settings
from tests.integration.console_support import PASSWORD, login, users


def _settings(tmp_path: Path, **security: float) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        public_base_url="http://testserver",
        security=SecuritySettings(**security),  # type: ignore[arg-type]
    )


def _try(client: TestClient, username: str, password: str) -> int:
    answer = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    return answer.status_code


def _actions(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.id)
        ).all()
    return [(a, b) for a, b in rows if a.startswith(("login", "logout"))]


def test_fifty_wrong_passwords_lock_the_account(db: Database, tmp_path: Path) -> None:
    users(db)
    settings = _settings(tmp_path, login_failures_per_account=5, login_lockout_seconds=60)
    with TestClient(create_app(settings, db)) as client:
        answers = []
        for _ in range(50):
            answer = client.post(
                "/login", data={"username": "officer", "password": "wrong-password"}
            )
            answers.append(answer.status_code)
            if answer.status_code == 429:
                assert 1 <= int(answer.headers["Retry-After"]) <= 60
                assert "秒后再试" in answer.text
        assert answers[:5] == [401] * 5
        assert set(answers[5:]) == {429}
        assert _try(client, "officer", PASSWORD) == 429  # the right password, still locked
        assert web_session.COOKIE not in client.cookies
        with db.transaction() as session:  # the minute passes
            session.execute(
                update(LoginThrottle).values(locked_until=utcnow() - dt.timedelta(seconds=1))
            )
        assert _try(client, "officer", PASSWORD) == 303  # the window has passed
    actions = _actions(db)
    assert actions.count(("login.failed", "login:officer")) == 5
    assert actions.count(("login.throttled", "login:officer")) == 46
    assert actions[-1] == ("login.ok", "user:officer")


def test_one_address_trying_many_accounts_is_throttled(db: Database, tmp_path: Path) -> None:
    users(db)
    settings = _settings(tmp_path, login_failures_per_address=8, login_lockout_seconds=300)
    with TestClient(create_app(settings, db)) as client:
        codes = [_try(client, f"guess{n}", "password1") for n in range(12)]
        assert codes[:8] == [401] * 8
        assert set(codes[8:]) == {429}
        assert _try(client, "admin", PASSWORD) == 429  # same address: refused too
    with db.read() as session:
        assert session.scalar(select(WebSession.id)) is None


def test_success_resets_the_account_count(db: Database, tmp_path: Path) -> None:
    users(db)
    settings = _settings(tmp_path, login_failures_per_account=3, login_failures_per_address=50)
    with TestClient(create_app(settings, db)) as client:
        for _ in range(4):
            assert [_try(client, "officer", "nope-nope") for _ in range(2)] == [401, 401]
            assert _try(client, "officer", PASSWORD) == 303


def test_logout_revokes_the_cookie(db: Database, client: TestClient) -> None:
    users(db)
    csrf = login(client, "officer")
    cookie = client.cookies.get(web_session.COOKIE)
    assert client.get("/api/v1/me").status_code == 200
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set(web_session.COOKIE, cookie or "")  # an attacker replays the old cookie
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/console", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    assert ("logout", "user:officer") in _actions(db)


def test_password_change_revokes_every_session(db: Database, client: TestClient) -> None:
    users(db)
    login(client, "officer")
    assert client.get("/api/v1/me").status_code == 200
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == "officer"))
        assert user is not None
        auth_service.set_password(session, user=user, password="a-new-password", actor=SYSTEM)
    assert client.get("/api/v1/me").status_code == 401


def test_idle_session_is_refused(db: Database, tmp_path: Path) -> None:
    users(db)
    settings = _settings(tmp_path, session_idle_minutes=30)
    with TestClient(create_app(settings, db)) as client:
        login(client, "officer")
        assert client.get("/api/v1/me").status_code == 200
        with db.transaction() as session:  # 31 minutes pass without a request
            session.execute(
                update(WebSession).values(last_seen_at=utcnow() - dt.timedelta(minutes=31))
            )
        assert client.get("/api/v1/me").status_code == 401


def test_activity_keeps_the_session_alive(db: Database, tmp_path: Path) -> None:
    users(db)
    settings = _settings(tmp_path, session_idle_minutes=30)
    with TestClient(create_app(settings, db)) as client:
        login(client, "officer")
        for _ in range(2):  # 20 minutes idle, a request, 20 more: never 30 in a row
            with db.transaction() as session:
                session.execute(
                    update(WebSession).values(last_seen_at=utcnow() - dt.timedelta(minutes=20))
                )
            assert client.get("/api/v1/me").status_code == 200


def test_forged_cookie_for_another_user_is_refused(db: Database, client: TestClient) -> None:
    """A cookie is bound to its session's user: the same token under another id fails."""
    users(db)
    login(client, "field")
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    secret = settings.secret_key.get_secret_value().encode()
    web = web_session.read(secret, client.cookies.get(web_session.COOKIE))
    assert web is not None
    with db.read() as session:
        admin = session.scalar(select(User.id).where(User.role == Role.admin))
    assert admin is not None
    _s, forged = web_session.issue(secret, admin, nonce=web.nonce)
    client.cookies.set(web_session.COOKIE, forged)
    assert client.get("/api/v1/me").status_code == 401


def test_sign_ins_are_listed_for_administrators(
    db: Database, client: TestClient, role_keys: dict[Role, str]
) -> None:
    users(db)
    assert _try(client, "officer", "not-it-at-all") == 401
    login(client, "officer")
    client.cookies.clear()
    admin = {"Authorization": f"Bearer {role_keys[Role.admin]}"}
    rows = client.get("/api/v1/audit/logins", headers=admin).json()
    assert [(r["action"], r["actor"]) for r in rows[:2]] == [
        ("login.ok", "user:officer"),
        ("login.failed", "login:officer"),
    ]
    assert rows[0]["source_ip"] == "testclient"
    failed = client.get("/api/v1/audit/logins?failed_only=true", headers=admin).json()
    assert {r["action"] for r in failed} == {"login.failed"}
    officer = {"Authorization": f"Bearer {role_keys[Role.officer]}"}
    assert client.get("/api/v1/audit/logins", headers=officer).status_code == 403


def test_console_shows_sign_ins_to_administrators(db: Database, client: TestClient) -> None:
    users(db)
    assert _try(client, "officer", "guessing-wrong") == 401
    login(client, "officer")
    assert "登录记录" not in client.get("/console/registry").text
    assert "guessing" not in client.get("/console/registry?tab=logins").text  # not for officers
    client.cookies.clear()
    login(client, "admin")
    page = client.get("/console/registry?tab=logins")
    assert page.status_code == 200
    assert 'class="login-login-failed"' in page.text
    assert "密码错误" in page.text
    assert "testclient" in page.text


def test_sessions_ended_long_ago_are_forgotten(db: Database, client: TestClient) -> None:
    users(db)
    login(client, "officer")
    with db.transaction() as session:
        session.execute(update(WebSession).values(revoked_at=utcnow() - dt.timedelta(days=2)))
    login(client, "officer")
    with db.read() as session:
        rows = list(session.scalars(select(WebSession)))
    assert len(rows) == 1
    assert rows[0].revoked_at is None


def test_unknown_names_cost_the_same_work_as_known_ones(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No telling which usernames exist by how fast a wrong password is refused: a wrong
    password for an unknown name costs the same key derivation, with the same parameters,
    as for a known one (counted, not timed: the scrypt call is the whole cost)."""
    users(db)
    derivations: list[dict[str, object]] = []
    scrypt = hashlib.scrypt

    def counted(password: bytes, **params: object) -> bytes:
        derivations.append({k: v for k, v in params.items() if k != "salt"})
        return scrypt(password, **params)

    monkeypatch.setattr(hashlib, "scrypt", counted)

    def work(name: str) -> list[dict[str, object]]:
        derivations.clear()
        with db.read() as session, pytest.raises(Unauthenticated):
            auth_service.authenticate_password(session, name, "wrong-password")
        return list(derivations)

    work("nobody")  # the decoy hash is made once
    known = work("officer")
    assert len(known) == 1
    assert work("nobody-at-all") == known
