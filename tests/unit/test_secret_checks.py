"""Production refuses short or guessable secret keys and placeholder provider credentials."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from pydantic import ValidationError

from broadcaster.secret_checks import secret_key_problem
from broadcaster.settings import Settings
from channels.registry import providers_in_use

GOOD_KEY = secrets.token_urlsafe(32)
REAL = {
    "BROADCASTER_ENV": "production",
    "BROADCASTER_SECRET_KEY": GOOD_KEY,
    "BROADCASTER_TWILIO__ACCOUNT_SID": "AC" + secrets.token_hex(16),
    "BROADCASTER_TWILIO__AUTH_TOKEN": secrets.token_hex(16),
}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("a", "1 bytes"),
        ("short-but-random-Xq9", "bytes"),
        ("a" * 64, "entropy"),
        ("ab" * 32, "entropy"),
        ("0123456789" * 4, None),  # 10 distinct digits, log2(10) ≈ 3.3 bits: allowed
        ("change-me-change-me-change-me-change-me", "placeholder"),
        ("your-secret-key-goes-here-please-1234", "placeholder"),
    ],
)
def test_secret_key_rules(key: str, reason: str | None) -> None:
    problem = secret_key_problem(key)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None
        assert reason in problem
        assert "broadcaster secret" in problem


@pytest.mark.parametrize(
    "value", ["ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk-xxxx-xxxx", "XXXX-XXXX"]
)
def test_values_written_with_xs_are_placeholders(value: str) -> None:
    assert "placeholder" in str(secret_key_problem(value))


def test_a_random_key_with_four_xs_in_a_row_passes() -> None:
    """A generated key once failed as a placeholder ('xXXX'): the test below draws 50 such
    keys, so about 1 run in 500 failed."""
    assert secret_key_problem("89nBAFYRt4GdcGK4Ufraf_JL0C3JoT8aPUv3xXXXzYI") is None


def test_fresh_keys_pass() -> None:
    for _ in range(50):
        assert secret_key_problem(secrets.token_urlsafe(32)) is None
        assert secret_key_problem(secrets.token_hex(32)) is None


def test_production_starts_with_real_secrets(production: pytest.MonkeyPatch) -> None:
    assert Settings().env == "production"


def test_production_refuses_a_one_letter_key(production: pytest.MonkeyPatch) -> None:
    production.setenv("BROADCASTER_SECRET_KEY", "a")
    with pytest.raises(ValidationError, match=r"secret_key has 1 bytes.*broadcaster secret"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("BROADCASTER_TWILIO__ACCOUNT_SID", "AC00000000000000000000000000000000", "account_sid"),
        ("BROADCASTER_TWILIO__AUTH_TOKEN", "change-me", "twilio.auth_token"),
        ("BROADCASTER_TWILIO__AUTH_TOKEN", "your_auth_token", "twilio.auth_token"),
        ("BROADCASTER_BOOTSTRAP_API_KEY", "bk_short", "bootstrap_api_key"),
        (
            "BROADCASTER_CHANNEL_OPTIONS",
            '{"aliyun_sms": {"access_key_secret": "changeme"}}',
            "channel_options.aliyun_sms.access_key_secret",
        ),
    ],
)
def test_production_refuses_default_credentials(
    production: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    production.setenv(name, value)
    with pytest.raises(ValidationError, match=re.escape(named)):
        Settings()


def test_email_password_placeholder_only_matters_with_a_username(
    production: pytest.MonkeyPatch,
) -> None:
    production.setenv("BROADCASTER_EMAIL__PASSWORD", "change-me")
    assert Settings().env == "production"
    production.setenv("BROADCASTER_EMAIL__USERNAME", "alerts")
    with pytest.raises(ValidationError, match=re.escape("email.password")):
        Settings()


def test_development_accepts_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTER_SECRET_KEY", "a")
    assert Settings().env == "development"


MAINLAND_MEDIA = json.dumps(
    {"sms": ["aliyun", "tencent"], "voice": ["aliyun"], "relay": ["aliyun", "tencent"]}
)
MAINLAND_KEYS = {
    "BROADCASTER_CHANNEL_OPTIONS__ALIYUN__ACCESS_KEY_ID": "LTAI5t" + secrets.token_hex(8),
    "BROADCASTER_CHANNEL_OPTIONS__ALIYUN__ACCESS_KEY_SECRET": secrets.token_urlsafe(22),
    "BROADCASTER_CHANNEL_OPTIONS__TENCENT__SECRET_ID": "AKID" + secrets.token_hex(12),
    "BROADCASTER_CHANNEL_OPTIONS__TENCENT__SECRET_KEY": secrets.token_urlsafe(24),
}


@pytest.fixture
def mainland(production: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Production on the mainland providers only, Twilio left at its placeholders."""
    production.delenv("BROADCASTER_TWILIO__ACCOUNT_SID")
    production.delenv("BROADCASTER_TWILIO__AUTH_TOKEN")
    production.setenv("BROADCASTER_MEDIA", MAINLAND_MEDIA)
    for name, value in MAINLAND_KEYS.items():
        production.setenv(name, value)
    return production


def test_production_on_mainland_providers_needs_no_twilio_credentials(
    mainland: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    assert settings.env == "production"
    assert settings.twilio.account_sid == "AC00000000000000000000000000000000"  # untouched
    assert "twilio" not in providers_in_use(settings.media)


@pytest.mark.parametrize(
    "media",
    [
        '{"sms": ["aliyun", "twilio"], "voice": ["aliyun"], "relay": ["aliyun"]}',  # failover
        '{"sms": ["aliyun"], "voice": ["twilio"], "relay": ["tencent"]}',
        '{"sms": ["aliyun"], "voice": ["aliyun"]}',  # relay left out: its default is Twilio
    ],
)
def test_production_refuses_twilio_placeholders_when_a_medium_uses_twilio(
    mainland: pytest.MonkeyPatch, media: str
) -> None:
    mainland.setenv("BROADCASTER_MEDIA", media)
    with pytest.raises(ValidationError, match=re.escape("twilio.account_sid")):
        Settings()


def test_mainland_placeholders_are_still_refused(mainland: pytest.MonkeyPatch) -> None:
    mainland.setenv("BROADCASTER_CHANNEL_OPTIONS__ALIYUN__ACCESS_KEY_SECRET", "change-me")
    with pytest.raises(ValidationError, match=re.escape("channel_options.aliyun.access_key")):
        Settings()
