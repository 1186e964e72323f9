"""The simulated Aliyun SMS account: access keys, signatures, approved templates, limits, faults."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

# The account's approved templates: the codes the shipped template book names (the
# repository's config/, else ./config as in the container image).
BOOK_PATH = Path("config") / "templates" / "providers" / "sms_aliyun.toml"
BOOK = next(
    (p for p in (Path(__file__).resolve().parents[2] / BOOK_PATH, BOOK_PATH) if p.is_file()),
    BOOK_PATH,
)
DEFAULT_KEY_ID = "LTAI5tSimulatorKeyId0001"
DEFAULT_KEY_SECRET = "sim-aliyun-access-key-secret-0123456789"  # noqa: S105 (the simulator's)


def approved_templates(path: Path = BOOK) -> tuple[str, dict[str, str]]:
    """(signature, template code → text) of a template book; empty when there is none."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return "", {}
    templates = {
        str(entry["code"]): str(entry["text"])
        for entry in raw.get("templates", {}).values()
        if isinstance(entry, dict) and entry.get("code") and entry.get("text")
    }
    return str(raw.get("sign_name", "")), templates


def _default_signs() -> list[str]:
    sign = approved_templates()[0]
    return [sign] if sign else []


def _default_templates() -> dict[str, str]:
    return approved_templates()[1]


class AliyunSmsSimConfig(BaseModel):
    """What the simulated account knows and how it misbehaves."""

    model_config = ConfigDict(extra="forbid")

    access_keys: dict[str, str] = Field(
        default_factory=lambda: {DEFAULT_KEY_ID: DEFAULT_KEY_SECRET},
        description="AccessKey ID → secret; requests signed otherwise are refused.",
    )
    sign_names: list[str] = Field(default_factory=_default_signs)
    templates: dict[str, str] = Field(
        default_factory=_default_templates, description="Approved template code → its text."
    )
    public_base: str = Field(
        default="", description="What {public_base} in a template's text stands for."
    )
    max_variable_chars: int = Field(default=35, ge=1)
    per_minute: int = Field(default=1, ge=1, description="Per number and signature.")
    per_hour: int = Field(default=5, ge=1)
    per_day: int = Field(default=10, ge=1)
    report_url: str | None = Field(default=None, description="SmsReport push URL.")
    up_url: str | None = Field(default=None, description="SmsUp push URL.")
    dest_code: str = "0001"
    report_delay_ms: float = Field(default=20, ge=0, description="Receipts collect this long.")
    report_batch: int = Field(default=100, ge=1, le=1000)
    push_retry_ms: list[float] = Field(
        default_factory=lambda: [200.0, 1000.0, 2000.0],
        description="Waits before pushing again (Aliyun: 1, 5 and 10 minutes).",
    )
    push_timeout_seconds: float = Field(default=15, gt=0)
    number_fates: dict[str, str] = Field(
        default_factory=dict, description="Mainland number → receipt err_code (DELIVERED: ok)."
    )
    failed_rate: float = Field(default=0, ge=0, le=1)
    down: bool = False
    error_rate: float = Field(default=0, ge=0, le=1, description="HTTP 500 InternalError.")
    throttle_rate: float = Field(default=0, ge=0, le=1, description="Throttling.User.")
    timeout_rate: float = Field(default=0, ge=0, le=1)
    timeout_seconds: float = Field(default=30, ge=0)
    timeout_sends: bool = Field(default=True, description="A timed-out SendSms still sends.")
    latency_ms: float = Field(default=0, ge=0)
    max_recorded: int = Field(default=200_000, ge=1)
