"""What the simulated Aliyun voice account knows, and the faults to inject."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# How a called number answers; a result code for each unanswered one (呼叫状态码).
CallFate = Literal["answer", "busy", "no_answer", "invalid", "rejected", "unreachable", "off"]
FATE_CODES = {
    "busy": ("200002", "用户占线"),
    "no_answer": ("200003", "用户收到呼叫但未接听"),
    "invalid": ("200004", "用户号码不合法"),
    "rejected": ("200005", "被叫用户无法接通"),
    "unreachable": ("200007", "用户无法接通"),
    "off": ("200010", "关机"),
}
# The simulated account's key (the same account as the simulated Aliyun SMS's).
DEFAULT_KEY_ID = "LTAI5tSimulatorKeyId0001"
DEFAULT_KEY_SECRET = "sim-aliyun-access-key-secret-0123456789"  # noqa: S105 (the simulator's)
BOOK = Path(__file__).resolve().parents[2] / "config/templates/providers/voice_aliyun.toml"
# The account's approved TTS templates (code → text): those of the shipped book, as Aliyun
# approved them; a deployment's own book, when it replaced the codes, is read instead.
TEMPLATES = {
    "TTS_310000110": "${sender}发布${level}${hazard}预警。${headline}。确认收到请按1，需要帮助请按2，重听请按9。",
    "TTS_310000111": "${sender}更新${level}${hazard}预警。${headline}。确认收到请按1，需要帮助请按2，重听请按9。",
    "TTS_310000112": "紧急转移令。${sender}：${headline}。请立即按村组安排转移。已转移请按1，需要帮助请按2，重听请按9。",
    "TTS_310000113": "${sender}通知：${hazard}预警已解除。${headline}。",
    "TTS_310000114": "${sender}通知：此前发布的${hazard}预警系误发，现予撤销。",
    "TTS_310000115": "${sender}通知：${head}家求助，地址${address}，电话${phone}，请立即联系或上门。",
    "TTS_310000116": "已确认收到，谢谢。请注意安全，再见。",
    "TTS_310000117": "已通知值班人员和包保责任人，请保持电话畅通，我们会尽快联系您。",
    "TTS_310000118": "${sender}发布${level}${hazard}预警。${headline}。您是${head}家的代联系人，请尽快转告。已转告平安请按1，需要帮助请按2，重听请按9。",
    # drills, approved with the drill marking
    "TTS_310000160": "这是一次演练。${sender}发布${level}${hazard}预警。${headline}。确认收到请按1，需要帮助请按2，重听请按9。",
    "TTS_310000161": "这是一次演练。${sender}更新${level}${hazard}预警。${headline}。确认收到请按1，需要帮助请按2，重听请按9。",
    "TTS_310000162": "这是一次演练。紧急转移令。${sender}：${headline}。请立即按村组安排转移。已转移请按1，需要帮助请按2，重听请按9。",
    "TTS_310000163": "这是一次演练。${sender}通知：${hazard}预警已解除。${headline}。",
    "TTS_310000164": "这是一次演练。${sender}通知：此前发布的${hazard}预警系误发，现予撤销。",
    "TTS_310000165": "这是一次演练。${sender}通知：${head}家求助，地址${address}，电话${phone}，请立即联系或上门。",
    "TTS_310000166": "这是一次演练。已确认收到，谢谢。请注意安全，再见。",
    "TTS_310000167": "这是一次演练。已通知值班人员和包保责任人，请保持电话畅通，我们会尽快联系您。",
    "TTS_310000168": "这是一次演练。${sender}发布${level}${hazard}预警。${headline}。您是${head}家的代联系人，请尽快转告。已转告平安请按1，需要帮助请按2，重听请按9。",
}


def approved_templates(path: Path = BOOK) -> dict[str, str]:
    """Template code → text of the deployment's book, else the shipped templates."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return dict(TEMPLATES)
    return {
        str(entry["code"]): str(entry["text"])
        for entry in raw.get("templates", {}).values()
        if isinstance(entry, dict) and entry.get("code") and entry.get("text")
    } or dict(TEMPLATES)


class AliyunVoiceSimConfig(BaseModel):
    """Calls ring until answered (POST /api/aliyun/voice/calls/{id}/answer, or auto_answer);
    keys come from /press (or auto_press). Reports go to the push URLs in batches."""

    model_config = ConfigDict(extra="forbid")

    access_keys: dict[str, str] = Field(
        default_factory=lambda: {DEFAULT_KEY_ID: DEFAULT_KEY_SECRET},
        description="AccessKey ID -> secret (ACS3-HMAC-SHA256 signing).",
    )
    show_numbers: list[str] = Field(
        default_factory=list, description="Purchased numbers; when set, others are refused."
    )
    templates: dict[str, str] = Field(default_factory=approved_templates)
    report_url: str | None = Field(default=None, description="VoiceReport push URL.")
    ivr_report_url: str | None = Field(default=None, description="VoiceCallReport push URL.")
    push_batch: int = Field(default=100, ge=1, le=1000, description="Reports per push.")
    push_every_ms: float = Field(default=20, ge=0, description="Gathers reports this long.")
    push_retries: int = Field(default=3, ge=0, le=10)
    push_retry_delay_ms: float = Field(default=200, ge=0, description="Aliyun: 1, 5, 10 min.")
    rate_per_second: float | None = Field(default=100, gt=0, description="Requests per key.")
    per_number_per_minute: int | None = Field(default=1, ge=1)
    per_number_per_hour: int | None = Field(default=5, ge=1)
    per_number_per_day: int | None = Field(default=20, ge=1)
    number_fates: dict[str, CallFate] = Field(
        default_factory=dict, description="How a called number (as dialled) answers."
    )
    auto_answer: bool = False
    auto_press: str | None = Field(
        default=None, pattern=r"^[0-9*#]{0,4}$", description="Keys pressed alone on answer."
    )
    silence_after_ms: float | None = Field(
        default=None,
        gt=0,
        description="An answered IVR call without a key for this long hears its message again, "
        "then ends (no key) once its play times are spent; unset: it waits for a key.",
    )
    down: bool = Field(default=False, description="Every request: 503 ServiceUnavailable.")
    error_rate: float = Field(default=0, ge=0, le=1, description="Share of 500 InternalError.")
    timeout_rate: float = Field(default=0, ge=0, le=1, description="Share answered too late.")
    timeout_seconds: float = Field(default=30, ge=0)
    latency_ms: float = Field(default=0, ge=0)
