"""Minor findings: one spelling per confirmation token, a repeated POST kept once, and an
automated feed never reads households (names, phone tails)."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broadcaster.alerts.tokens import read_token
from broadcaster.auth.models import Role
from broadcaster.confirm.models import Confirmation, HelpRequest
from broadcaster.db.database import Database
from broadcaster.settings import Settings
from tests.api_fixtures import auth
from tests.integration.test_confirm import count, setup, token

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def spellings(good: str) -> list[str]:
    """Other strings that decode to the same bytes: the last character with other unused low
    bits, padding, stray characters outside the alphabet."""
    raw = base64.urlsafe_b64decode(good + "=" * (-len(good) % 4))
    others = [
        good[:-1] + c
        for c in ALPHABET
        if c != good[-1] and base64.urlsafe_b64decode(good[:-1] + c + "=" * (-len(good) % 4)) == raw
    ]
    return [*others, good + "=" * (-len(good) % 4 or 4), good[:3] + "!" + good[3:], good + " "]


def test_a_confirmation_token_has_exactly_one_spelling(
    client: TestClient, db: Database, settings: Settings
) -> None:
    alert_id, people = setup(db, settings, households=1)
    good = token(settings, alert_id, people[0])
    secret = settings.secret_key.get_secret_value().encode()
    assert read_token(secret, good) == (alert_id, people[0].id)
    variants = spellings(good)
    assert len(variants) >= 3  # the attack: the same token written several ways
    for variant in variants:
        assert read_token(secret, variant) is None, variant
        assert client.post(f"/c/{variant}", data={"answer": "safe"}).status_code == 404
    assert read_token(secret, good + "\n") is None
    assert count(db, Confirmation) == 0
    assert client.post(f"/c/{good}", data={"answer": "safe"}).status_code == 200
    assert count(db, Confirmation) == 1


def test_a_second_post_of_the_same_answer_adds_no_row(
    client: TestClient, db: Database, settings: Settings
) -> None:
    alert_id, people = setup(db, settings, households=1)
    link = f"/c/{token(settings, alert_id, people[0])}"
    for _ in range(3):
        assert client.post(link, data={"answer": "needs_help"}).status_code == 200
    assert (count(db, Confirmation), count(db, HelpRequest)) == (1, 1)
    # A different answer is a new fact and is kept.
    assert client.post(link, data={"answer": "evacuated"}).status_code == 200
    assert client.post(link, data={"answer": "evacuated"}).status_code == 200
    with db.read() as session:
        answers = list(session.scalars(select(Confirmation.answer).order_by(Confirmation.id)))
        assert session.scalar(select(func.count()).select_from(HelpRequest)) == 1
    assert [a.value for a in answers] == ["needs_help", "evacuated"]


def test_the_feed_role_cannot_read_recipients(
    client: TestClient, role_keys: dict[Role, str], db: Database, settings: Settings
) -> None:
    alert_id, _people = setup(db, settings, households=2)
    url = f"/api/v1/alerts/{alert_id}/recipients"
    refused = client.get(url, headers=auth(role_keys[Role.feed]))
    assert refused.status_code == 403
    assert "head_name" not in refused.text
    officer = client.get(url, headers=auth(role_keys[Role.officer]))
    assert (officer.status_code, officer.json()["total"]) == (200, 2)
    # The alert itself (counts, no household) stays readable to the feed.
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=auth(role_keys[Role.feed])).is_success
