"""Service settings: BROADCASTER_* environment variables over an optional TOML file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from broadcaster.secret_checks import (
    MIN_SECRET_BYTES,
    credential_problems,
    looks_like_credential,
    secret_key_problem,
)

PACKAGE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


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
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Per-request timeout of this provider's API (a few times its p99 "
        "latency); unset: delivery.provider_timeout_seconds.",
    )
    lookup_concurrency: int = Field(
        default=20, ge=1, description="Status lookups in flight: the provider's query limit."
    )


class BreakerSettings(BaseModel):
    """The circuit breaker of each provider credential: a provider that fails most requests
    gets none but a few probes until it recovers; its items wait, queued, never dropped."""

    model_config = ConfigDict(extra="forbid")

    window_seconds: float = Field(default=10.0, gt=0)
    min_requests: int = Field(default=20, ge=1)
    error_rate: float = Field(
        default=0.6, gt=0, le=1, description="Share of errors and timeouts that opens it."
    )
    open_seconds: float = Field(default=5.0, gt=0, description="Before half-open probes.")
    probes: int = Field(default=3, ge=1)


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


class NumberWindows(BaseModel):
    """The minute, hour and day of the per-number limits providers declare (per_minute,
    per_hour, per_day); shorter only to test the limiter."""

    model_config = ConfigDict(extra="forbid")

    minute_seconds: float = Field(default=60.0, gt=0)
    hour_seconds: float = Field(default=3600.0, gt=0)
    day_seconds: float = Field(default=86400.0, gt=0)

    @property
    def spans(self) -> tuple[float, float, float]:
        return (self.minute_seconds, self.hour_seconds, self.day_seconds)


class DeliverySettings(BaseModel):
    """How send batches are cut, leased and timed."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=500, ge=1, le=10_000)
    lease_seconds: int = Field(
        default=10,
        ge=3,
        description="A batch's lease, renewed by the worker's heartbeat every third of it: "
        "a dead worker's unsent deliveries are looked after this long after it died.",
    )
    provider_timeout_seconds: float = Field(default=5.0, gt=0)
    concurrency: int = Field(default=100, ge=1)
    slow_after_seconds: float = Field(
        default=1.0,
        gt=0,
        description="A request slower than this stops counting against `concurrency` "
        "(it still runs to its timeout), so a provider's timeouts do not starve the rest.",
    )
    unknown_grace_seconds: float = Field(
        default=5.0, ge=0, description="Callbacks' chance to resolve an unknown before a lookup."
    )
    resend_quiet_seconds: float = Field(
        default=15.0,
        ge=0,
        description="A provider's 'never got it' about a request of unknown fate is trusted "
        "(the message resent) only this long after the request could last have left; "
        "sooner, it is asked again then (a slow provider may still take it in).",
    )
    status_lookup_after_seconds: float = Field(
        default=20.0,
        ge=0,
        description="Ask the provider about a sent message with no final "
        "status callback after this long (callbacks get lost).",
    )
    status_recheck_after_seconds: float = Field(
        default=300.0,
        ge=0,
        description="Ask again this long after the last lookup while the provider still "
        "has no final status (some carriers never report one).",
    )
    lookup_budget_seconds: float = Field(
        default=30.0, gt=0, description="Longest a reconciler tick spends on lookups."
    )
    reconcile_every_seconds: float = Field(default=10.0, gt=0)
    number_windows: NumberWindows = NumberWindows()
    breaker: BreakerSettings = BreakerSettings()


class FeedSource(BaseModel):
    """One Atom/RSS feed of CAP alerts to poll."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    every_seconds: float = Field(default=60.0, ge=1)
    name: str = ""
    senders: list[str] = Field(
        default_factory=list,
        description="The CAP <sender> values this upstream publishes; a document from any "
        "other sender is refused. Empty: any sender.",
    )


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
    # What one CAP document may carry: mapping it to households costs per vertex and shape.
    max_cap_areas: int = Field(default=100, ge=1)
    max_cap_shapes: int = Field(default=100, ge=1, description="Polygons and circles together.")
    max_cap_vertices: int = Field(default=2000, ge=4, description="All polygons together.")
    max_cap_geocodes: int = Field(default=1000, ge=1)


class ImportSettings(BaseModel):
    """Bounds on an uploaded registry file (.xlsx or .csv), checked before it is parsed."""

    model_config = ConfigDict(extra="forbid")

    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_uncompressed_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="All parts of an .xlsx, unpacked."
    )
    max_compression_ratio: float = Field(
        default=200.0, gt=1, description="Of any .xlsx part over 1 MiB unpacked (zip bombs)."
    )
    max_rows: int = Field(default=200_000, ge=1)
    max_problems: int = Field(
        default=1000, ge=1, description="Problems listed in a report; the total is always given."
    )


class SecuritySettings(BaseModel):
    """Console sessions, login throttling, API documentation and HTTP security headers."""

    model_config = ConfigDict(extra="forbid")

    session_idle_minutes: float = Field(
        default=60.0, gt=0, description="A console session unused this long must sign in again."
    )
    session_hours: float = Field(default=12.0, gt=0, description="Longest session (one shift).")
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_lockout_seconds: float = Field(
        default=60.0, gt=0, description="First lockout; doubles with each later failure."
    )
    login_lockout_max_seconds: float = Field(default=3600.0, gt=0)
    api_docs: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json (default: everywhere but production).",
    )
    hsts_seconds: int = Field(default=31_536_000, ge=0)


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
    time_zone: str = Field(
        default="Asia/Shanghai",
        description="The district's time zone: every time a person reads is shown in it.",
    )
    sender_name: str = "防汛抗旱指挥部"
    config_dir: Path = Field(default_factory=lambda: _default_config_dir())
    followup_every_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often escalation, visit reassignment and alert completion are checked.",
    )
    tally_fold_every_seconds: float = Field(
        default=10.0, gt=0, description="How often PostgreSQL's tally deltas are folded."
    )
    tally_check_every_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How often the live alerts' tallies are recounted (drift is logged, mended).",
    )
    statistics_every_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often PostgreSQL's planner statistics of the tables a fan-out grows "
        "are checked, and sampled again where a fifth of their rows changed since.",
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
        default_factory=dict,
        description="Each provider's own settings table, by its name (third parties' only "
        "one; built-ins read their sections below first, then this).",
    )
    media: dict[str, Annotated[list[str], Field(min_length=1)]] = Field(
        default_factory=dict,
        description='Each medium\'s providers in order (e.g. sms = ["twilio"]); a medium '
        "left out uses its installed provider. Sends go through the first.",
    )
    twilio: TwilioSettings = TwilioSettings()
    voice: VoiceSettings = VoiceSettings()
    wecom: WecomSettings = WecomSettings()
    email: EmailSettings = EmailSettings()
    delivery: DeliverySettings = DeliverySettings()
    feeds: FeedsSettings = FeedsSettings()
    security: SecuritySettings = SecuritySettings()
    imports: ImportSettings = ImportSettings()

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

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The district's time zone."""
        return ZoneInfo(self.time_zone)

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.env != "production":
            return self
        key_problem = secret_key_problem(self.secret_key.get_secret_value())
        problems = ([key_problem] if key_problem else []) + credential_problems(
            self.credential_values()
        )
        bootstrap = self.bootstrap_api_key
        if bootstrap and len(bootstrap.get_secret_value().encode()) < MIN_SECRET_BYTES:
            problems.append(f"bootstrap_api_key is shorter than {MIN_SECRET_BYTES} bytes")
        if problems:
            raise ValueError(
                "production mode refuses to start (BROADCASTER_ENV=production): "
                + "; ".join(problems)
            )
        return self

    def credential_values(self) -> dict[str, str | None]:
        """Provider credentials that must not be defaults in production, by setting name
        (a provider's own section, e.g. the Twilio account, only when a medium sends through
        that provider)."""
        found: dict[str, str | None] = {
            "bootstrap_api_key": (
                self.bootstrap_api_key.get_secret_value() if self.bootstrap_api_key else None
            ),
        }
        found.update(self._sections_in_use())
        if self.email.username:
            password = self.email.password
            found["email.password"] = password.get_secret_value() if password else ""
        for channel, options in self.channel_options.items():
            for name, value in options.items():
                if isinstance(value, str) and looks_like_credential(name):
                    found[f"channel_options.{channel}.{name}"] = value
        return found

    def _sections_in_use(self) -> dict[str, str | None]:
        """The credential-looking values of each top-level section named after a provider
        that some medium sends through (the Twilio account today)."""
        from channels.registry import providers_in_use  # loads the channels: only when asked

        found: dict[str, str | None] = {}
        for provider in sorted(providers_in_use(self.media)):
            section = getattr(self, provider, None)
            if not isinstance(section, BaseModel):
                continue
            for name, value in section.model_dump().items():
                if looks_like_credential(name):
                    secret = value.get_secret_value() if isinstance(value, SecretStr) else value
                    found[f"{provider}.{name}"] = secret
        return found

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import time)."""
    return Settings()
