"""Voice pieces without services: call statuses to our states, and the spoken alert text."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.alerts.models import Alert, AlertStatus, Hazard, Level
from broadcaster.alerts.texts import render
from broadcaster.settings import PACKAGE_CONFIG_DIR
from channels.base import ProviderState
from channels.voice_twilio import VoiceTwilio, call_state, is_machine

TEMPLATES = PACKAGE_CONFIG_DIR / "templates"
SENT, DELIVERED, FAILED = ProviderState.sent, ProviderState.delivered, ProviderState.failed


@pytest.mark.parametrize(
    ("status", "answered_by", "expected"),
    [
        ("queued", None, (SENT, None)),
        ("initiated", None, (SENT, None)),
        ("ringing", None, (SENT, None)),
        ("in-progress", "human", (SENT, None)),
        ("completed", "human", (DELIVERED, None)),
        ("completed", None, (DELIVERED, None)),
        ("completed", "unknown", (DELIVERED, None)),
        ("completed", "machine_start", (FAILED, "machine")),
        ("completed", "machine_end_beep", (FAILED, "machine")),
        ("completed", "fax", (FAILED, "machine")),
        ("in-progress", "machine_start", (FAILED, "machine")),
        (None, "machine_end_other", (FAILED, "machine")),
        (None, "human", None),
        ("busy", None, (FAILED, "busy")),
        ("no-answer", None, (FAILED, "no-answer")),
        ("failed", None, (FAILED, "failed")),
        ("canceled", None, (FAILED, "canceled")),
        ("busy", "machine_start", (FAILED, "busy")),
        ("something-new", None, None),
    ],
)
def test_call_statuses_map_to_our_states(
    status: str | None, answered_by: str | None, expected: tuple[ProviderState, str | None] | None
) -> None:
    assert call_state(status, answered_by) == expected


def test_machine_verdicts() -> None:
    assert is_machine("machine_start")
    assert is_machine("fax")
    assert not is_machine("human")
    assert not is_machine("unknown")
    assert not is_machine(None)


def test_the_channel_declares_key_presses_for_people() -> None:
    assert VoiceTwilio.name == "voice"
    assert VoiceTwilio.capabilities.audience.value == "person"
    assert VoiceTwilio.capabilities.confirmations == frozenset({"keypress"})


def alert(status: AlertStatus) -> Alert:
    return Alert(
        status=status,
        hazard=Hazard.rain,
        level=Level.red,
        headline="暴雨红色预警",
        body="预计未来3小时降雨量将达100毫米以上。",
        instruction="请立即转移到安全地带。",
    )


def spoken(status: AlertStatus, language: str, templates: Path = TEMPLATES) -> str:
    return render(
        alert(status), channel="voice", language=language, templates_dir=templates, sender="指挥部"
    ).template


def test_voice_text_is_spoken_form_without_link_or_brackets() -> None:
    text = spoken(AlertStatus.actual, "zh-CN")
    assert text.startswith("指挥部发布红色暴雨预警。暴雨红色预警。")
    assert "请立即转移到安全地带。" in text
    assert "请按1" in text  # the call names its keys
    for absent in ("【", "】", "http", "\x00", "回复", "演练"):
        assert absent not in text


def test_drills_start_by_saying_so() -> None:
    assert spoken(AlertStatus.exercise, "zh-CN").startswith("这是一次演练。")
    assert spoken(AlertStatus.test, "en").startswith("This is a drill.")


def test_english_voice_text() -> None:
    text = spoken(AlertStatus.actual, "en")
    assert text.startswith("指挥部: Red rainstorm warning.")
    assert "Press 1" in text
    assert "Reply" not in text
    assert "[" not in text
