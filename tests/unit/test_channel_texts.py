"""Channel-specific instruction texts: the SMS asks for a reply, the call names the keys, the
loudspeaker and public texts ask for neither (an officer's own "reply 2" ask is dropped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.alerts.models import Alert, AlertStatus, Hazard, Level
from broadcaster.alerts.texts import render, without_reply_ask

TEMPLATES = Path(__file__).resolve().parents[2] / "config" / "templates"
INSTRUCTION = "请立即转移到安全地带，不要返回危险区取财物；需要帮助请立即回复2。"


def text(channel: str, language: str = "zh-CN", status: AlertStatus = AlertStatus.actual) -> str:
    alert = Alert(
        hazard=Hazard.rain,
        level=Level.red,
        status=status,
        headline="暴雨红色预警",
        body="预计未来3小时降雨量将达100毫米以上。",
        instruction=INSTRUCTION,
    )
    rendered = render(
        alert, channel=channel, language=language, templates_dir=TEMPLATES, sender="防汛办"
    )
    return rendered.template


def test_each_channel_asks_for_its_own_answer() -> None:
    sms, voice, speaker = text("sms"), text("voice"), text("loudspeaker")
    assert "回复1收到，回复2求助" in sms
    assert sms.count("回复2") == 1  # the instruction's own ask is not repeated
    assert "请按1" in voice
    assert "请按2" in voice
    assert "回复" not in voice
    assert "回复" not in speaker
    assert "按" not in speaker
    assert "不要返回危险区取财物。" in speaker
    assert "Press 1" in text("voice", "en")
    assert "演练" in text("loudspeaker", status=AlertStatus.exercise)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (INSTRUCTION, "请立即转移到安全地带，不要返回危险区取财物。"),
        ("请立即转移。需要帮助请回复2求助。", "请立即转移。"),
        ("Move now. Reply 2 for help.", "Move now."),
        ("降雨量12.5毫米；需要帮助请回复2", "降雨量12.5毫米。"),
        ("请注意安全。", "请注意安全。"),
        ("", ""),
    ],
)
def test_reply_asks_are_dropped(given: str, kept: str) -> None:
    assert without_reply_ask(given) == kept
