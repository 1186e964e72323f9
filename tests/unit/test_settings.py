"""Settings: environment over TOML, nested keys, production refuses placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from broadcaster.settings import Settings


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "b.toml"
    config.write_text('queue_prefix = "from-toml"\n[delivery]\nbatch_size = 42\n')
    monkeypatch.setenv("BROADCASTER_CONFIG", str(config))
    monkeypatch.setenv("BROADCASTER_DELIVERY__BATCH_SIZE", "77")
    settings = Settings()
    assert settings.queue_prefix == "from-toml"
    assert settings.delivery.batch_size == 77


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTER_CONFIG", "/nonexistent/b.toml")
    with pytest.raises(ValueError, match="missing file"):
        Settings()


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTER_ENV", "production")
    with pytest.raises(ValidationError, match="secret_key"):
        Settings()
    monkeypatch.setenv("BROADCASTER_SECRET_KEY", "Kp3xV9qLmT2wZr7sYb4nHc8dJf6gAe1u")
    monkeypatch.setenv("BROADCASTER_TWILIO__ACCOUNT_SID", "AC1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c")
    monkeypatch.setenv("BROADCASTER_TWILIO__AUTH_TOKEN", "a-real-token-value")
    assert Settings().env == "production"


def test_secrets_do_not_leak_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTER_SECRET_KEY", "very-secret-value")
    assert "very-secret-value" not in repr(Settings())


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/broadcaster.db"
