"""Service settings: BROADCASTER_* environment variables over an optional TOML file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PACKAGE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "test", "example"})


class TwilioSettings(BaseModel):
    """Credentials and endpoint of the Twilio-compatible SMS/voice provider."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = "AC00000000000000000000000000000000"
    auth_token: SecretStr = SecretStr("change-me")
    from_number: str = "+15005550006"
    messaging_service_sid: str | None = None
    api_base_url: str | None = Field(
        default=None,
        description="Rewrite Twilio API calls to this base URL (the provider simulator).",
    )
    rate_per_second: float = 100.0


class VoiceSettings(BaseModel):
    """Calls through the Twilio-compatible provider (same account as SMS)."""

    model_config = ConfigDict(extra="forbid")

    speak_mode: Literal["say", "play"] = "say"
    say_voice: str | None = None
    machine_detection: bool = True
    per_number_per_minute: int = Field(default=1, ge=1)
    per_number_per_hour: int = Field(default=5, ge=1)
    concurrency: int = Field(default=20, ge=1)


class WecomSettings(BaseModel):
    """WeCom group robots; each group's robot key lives on the group in the registry."""

    model_config = ConfigDict(extra="forbid")

    api_base_url: str = "https://qyapi.weixin.qq.com"
    message_type: Literal["text", "markdown"] = "text"


class EmailSettings(BaseModel):
    """The SMTP server that sends alert emails."""

    model_config = ConfigDict(extra="forbid")

    host: str = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["none", "starttls", "tls"] = "starttls"
    from_address: str = "防汛抗旱指挥部 <alerts@example.org>"


class DeliverySettings(BaseModel):
    """How send batches are cut, leased and timed."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=500, ge=1, le=10_000)
    lease_seconds: int = Field(default=60, ge=5)
    provider_timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=100, ge=1)
    unknown_grace_seconds: float = Field(default=30.0, ge=0)
    status_lookup_after_seconds: float = Field(
        default=900.0,
        ge=0,
        description="Ask the provider about a sent message with no final "
        "status callback after this long (callbacks get lost).",
    )
    reconcile_every_seconds: float = Field(default=10.0, gt=0)


class FeedSource(BaseModel):
    """One Atom/RSS feed of CAP alerts to poll."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    every_seconds: float = Field(default=60.0, ge=1)
    name: str = ""


class FeedsSettings(BaseModel):
    """Automated feeds: CAP documents pushed or polled, sensor readings."""

    model_config = ConfigDict(extra="forbid")

    max_cap_bytes: int = Field(default=1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    max_feed_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    poll: list[FeedSource] = Field(default_factory=list)
    poll_tick_seconds: float = Field(default=15.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    stale_after_hours: float = Field(
        default=24.0,
        gt=0,
        description="A CAP alert without an expiry sent longer ago is taken in but not sent.",
    )


class Settings(BaseSettings):
    """All configuration of one deployment; see config/broadcaster.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix="BROADCASTER_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    queue_prefix: str = "broadcaster"
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("change-me")
    bootstrap_api_key: SecretStr | None = None
    default_region: str = "CN"
    language: Literal["zh-CN", "en"] = "zh-CN"
    sender_name: str = "防汛抗旱指挥部"
    config_dir: Path = Field(default_factory=lambda: _default_config_dir())
    followup_every_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often escalation, visit reassignment and alert completion are checked.",
    )
    api_ticks: bool = Field(
        default=True,
        description="API processes also fire the cluster-wide periodic ticks (any live process "
        "does, so no tick depends on one worker staying alive).",
    )
    confirm_grace_hours: float = Field(
        default=24.0, ge=0, description="How long confirmation links work after an alert ends."
    )
    simulator_url: str | None = Field(
        default=None,
        description="Base URL of the provider simulator; drills (exercise/test) go only there.",
    )
    simulator_smtp: str | None = Field(
        default=None, description="host:port of the simulator's SMTP sink, for drill emails."
    )
    channel_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Settings of third-party channels, by channel name."
    )
    twilio: TwilioSettings = TwilioSettings()
    voice: VoiceSettings = VoiceSettings()
    wecom: WecomSettings = WecomSettings()
    email: EmailSettings = EmailSettings()
    delivery: DeliverySettings = DeliverySettings()
    feeds: FeedsSettings = FeedsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("BROADCASTER_CONFIG")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ValueError(f"BROADCASTER_CONFIG points to a missing file: {path}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.env != "production":
            return self
        bad = [name for name, value in self.secret_values().items() if is_placeholder(value)]
        if bad:
            raise ValueError(
                "production mode refuses placeholder secrets: " + ", ".join(sorted(bad))
            )
        return self

    def secret_values(self) -> dict[str, str]:
        """The secrets that must be real in production, by their setting name."""
        return {
            "secret_key": self.secret_key.get_secret_value(),
            "twilio.auth_token": self.twilio.auth_token.get_secret_value(),
        }

    @property
    def resolved_database_url(self) -> str:
        """The configured database URL, else a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'broadcaster.db').resolve()}"

    def public_url(self, path: str) -> str:
        """An absolute URL under the public base URL (what providers and residents see)."""
        return self.public_base_url.rstrip("/") + "/" + path.lstrip("/")


def _default_config_dir() -> Path:
    """The repository's config/ (editable installs), else ./config (containers)."""
    return PACKAGE_CONFIG_DIR if PACKAGE_CONFIG_DIR.is_dir() else Path("config")


def is_placeholder(value: str) -> bool:
    """True for an empty or well-known placeholder secret."""
    return value.strip().lower() in PLACEHOLDER_SECRETS


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import time)."""
    return Settings()
