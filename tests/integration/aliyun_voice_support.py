"""Shared by the Aliyun voice tests (no tests here): account, channel, simulator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from broadcaster.settings import Settings
from channels.base import Message
from channels.voice_aliyun import SIM_PATH, VoiceAliyun, VoiceAliyunSettings

ACCESS_KEY = "LTAI5tSimVoiceKey0001"
SECRET = "sim-voice-secret-0123456789abcdef"
SHOW_NUMBER = "057188880000"
PUSH_TOKEN = "push-token-0123456789abcdef"
BOOK = Path(__file__).resolve().parents[2] / "config/templates/providers/voice_aliyun.toml"
ALERT = Message(
    "alert",
    "rain",
    "red",
    {"sender": "某区防指", "level_name": "红色", "hazard_name": "暴雨", "headline": "暴雨红色预警"},
)


def account(**extra: Any) -> dict[str, Any]:
    """The simulated account's configuration (SimConfig.aliyun_voice)."""
    return {"access_keys": {ACCESS_KEY: SECRET}, "show_numbers": [SHOW_NUMBER], **extra}


def options(**extra: Any) -> dict[str, Any]:
    """The service's configuration of the provider (channel_options.voice_aliyun)."""
    return {
        "access_key_id": ACCESS_KEY,
        "access_key_secret": SECRET,
        "called_show_number": SHOW_NUMBER,
        "push_token": PUSH_TOKEN,
        **extra,
    }


def channel(sim_url: str, **overrides: Any) -> VoiceAliyun:
    settings: dict[str, Any] = {
        **options(),
        "endpoint": f"{sim_url}/{SIM_PATH}",
        "templates": BOOK,
        **overrides,
    }
    return VoiceAliyun(VoiceAliyunSettings.model_validate(settings))


def push_urls(settings: Settings) -> dict[str, str]:
    """Where the account pushes its reports: the service's hooks, with the secret token."""
    return {
        "report_url": settings.public_url(f"/hooks/aliyun/voice_report?token={PUSH_TOKEN}"),
        "ivr_report_url": settings.public_url(f"/hooks/aliyun/ivr_report?token={PUSH_TOKEN}"),
    }


@dataclass
class SimVoice:
    """The simulator's Aliyun voice control API."""

    control: httpx.Client

    def calls(self, **query: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            self.control.get("/api/aliyun/voice", params=query).raise_for_status().json()["calls"]
        )
        return found

    def act(self, call_id: str, action: str, **body: str) -> dict[str, Any]:
        answer = self.control.post(f"/api/aliyun/voice/calls/{call_id}/{action}", json=body)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def faults(self, **faults: Any) -> None:
        self.control.post("/api/aliyun/voice/faults", json=faults).raise_for_status()

    def configure(self, **voice: Any) -> None:
        self.control.post("/api/config", json={"aliyun_voice": voice}).raise_for_status()
