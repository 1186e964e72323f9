"""Security headers per page type: console and API unframeable under a strict CSP, the
embeddable list frameable, personal-token pages never cached nor sent as referrer; HSTS
only when the public base URL is https."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from broadcaster.alerts.tokens import make_token
from broadcaster.app import create_app
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from tests.integration.console_support import login, seed, users

STRICT = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'")


def _unframeable(headers: dict[str, str] | object) -> None:
    h = dict(headers)  # type: ignore[call-overload]
    csp = h["content-security-policy"]
    assert all(part in csp for part in STRICT)
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/login", "/api/v1/me", "/public", "/healthz", "/static/console.js", "/nowhere"]
)
def test_default_pages_are_strict(client: TestClient, path: str) -> None:
    answer = client.get(path)
    _unframeable(answer.headers)
    assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in answer.headers  # http base URL


def test_console_page_is_strict(db: Database, client: TestClient) -> None:
    users(db)
    login(client, "officer")
    answer = client.get("/console")
    assert answer.status_code == 200
    _unframeable(answer.headers)
    assert "<script>" not in answer.text
    assert " style=" not in answer.text
    assert " onclick=" not in answer.text


def test_embeddable_list_may_be_framed(client: TestClient) -> None:
    answer = client.get("/public/embed")
    assert answer.status_code == 200
    assert "frame-ancestors *" in answer.headers["content-security-policy"]
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "x-frame-options" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_confirmation_link_page_is_private(
    db: Database, client: TestClient, settings: Settings
) -> None:
    seeded = seed(db, settings, households=1)
    secret = settings.secret_key.get_secret_value().encode()
    link = f"/c/{make_token(secret, seeded.alert_id, seeded.people[0].id)}"
    for answer in (client.get(link), client.get("/c/not-a-token"), client.get("/relay/nope")):
        _unframeable(answer.headers)
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert client.get(link).status_code == 200


def test_hsts_when_served_over_https(db: Database, tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, public_base_url="https://warn.example.cn")
    with TestClient(create_app(settings, db)) as client:
        hsts = client.get("/healthz").headers["strict-transport-security"]
    assert hsts == "max-age=31536000"
