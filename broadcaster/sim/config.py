"""Simulator configuration: accounts, numbers and the fault and timing knobs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.sim.aliyun_sms_config import AliyunSmsSimConfig
from broadcaster.sim.aliyun_voice_config import AliyunVoiceSimConfig
from broadcaster.sim.tencent_push import TencentSimConfig
from broadcaster.sim.twilio_calls import CallsSimConfig
from broadcaster.sim.wecom import WecomSimConfig

Fate = Literal["delivered", "undelivered", "failed"]


class NumberConfig(BaseModel):
    """One of the service's sending numbers, as the provider knows it."""

    model_config = ConfigDict(extra="forbid")

    sms_url: str | None = Field(default=None, description="Inbound SMS webhook (POST).")
    account_sid: str | None = Field(
        default=None, description="Owning account; the first configured account when unset."
    )


class SimConfig(BaseModel):
    """Everything the simulator does differently from a perfect provider."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    accounts: dict[str, str] = Field(
        default_factory=dict, description="Account SID -> auth token (HTTP Basic, signing)."
    )
    numbers: dict[str, NumberConfig] = Field(
        default_factory=dict,
        description="Our sending numbers. When non-empty, a From outside it is rejected (21606).",
    )
    latency_ms: float = Field(default=0, ge=0)
    error_500_rate: float = Field(default=0, ge=0, le=1)
    error_429_rate: float = Field(default=0, ge=0, le=1)
    timeout_rate: float = Field(default=0, ge=0, le=1)
    timeout_seconds: float = Field(default=30, ge=0)
    timeout_creates_message: bool = True
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    undelivered_rate: float = Field(default=0, ge=0, le=1)
    failed_rate: float = Field(default=0, ge=0, le=1)
    number_fates: dict[str, Fate] = Field(
        default_factory=dict, description="Fixed fate per To number, overriding the rates."
    )
    callback_delay_ms: float = Field(default=0, ge=0, description="Between status changes.")
    callbacks: bool = True
    duplicate_callback_rate: float = Field(default=0, ge=0, le=1)
    callback_concurrency: int = Field(default=64, ge=1, le=10_000)
    callback_queue_size: int = Field(default=100_000, ge=1)
    callback_retries: int = Field(default=3, ge=0, le=20)
    callback_retry_delay_ms: float = Field(default=200, ge=0)
    callback_timeout_seconds: float = Field(default=15, gt=0)
    seed: int | None = None
    max_recorded: int = Field(default=1_000_000, ge=1)
    max_recorded_requests: int = Field(default=10_000, ge=0)
    max_recorded_callbacks: int = Field(default=100_000, ge=0)
    aliyun_voice: AliyunVoiceSimConfig = Field(default_factory=AliyunVoiceSimConfig)
    wecom: WecomSimConfig = Field(default_factory=WecomSimConfig)
    calls: CallsSimConfig = Field(default_factory=CallsSimConfig)
    aliyun_sms: AliyunSmsSimConfig = Field(default_factory=AliyunSmsSimConfig)
    tencent: TencentSimConfig = Field(default_factory=TencentSimConfig)

    def default_account(self) -> str | None:
        """The account that owns numbers without an explicit one."""
        return next(iter(self.accounts), None)

    def number_account(self, number: str) -> str | None:
        """Which account a sending number belongs to."""
        entry = self.numbers.get(number)
        if entry is not None and entry.account_sid:
            return entry.account_sid
        return self.default_account()

    def patched(self, patch: dict[str, Any]) -> SimConfig:
        """A validated copy with the given top-level fields replaced."""
        data = self.model_dump()
        data.update(patch)
        return SimConfig.model_validate(data)
