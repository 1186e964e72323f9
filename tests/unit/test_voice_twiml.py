"""The call's TwiML, read back with an XML parser: verbs, attributes, escaping, key answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from channels.voice_twiml import (
    GATHER_TIMEOUT_SECONDS,
    MAX_PLAYS,
    PHRASES,
    call_twiml,
    gather_reply_twiml,
    say_language,
)

GATHER = "https://hooks.example.org/hooks/twilio/voice/gather?d=7&attempt=1"
GATHER_NEXT = "https://hooks.example.org/hooks/twilio/voice/gather?d=7&attempt=2"
REPLAY = "https://hooks.example.org/hooks/twilio/voice/twiml?d=7&attempt=2"
SCRIPT = "防汛抗旱指挥部发布红色暴雨预警。请立即转移到安全地带。"


def parse(document: str) -> ET.Element:
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(document)
    assert root.tag == "Response"
    return root


def tags(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def test_first_attempt_speaks_then_gathers_one_key_then_repeats() -> None:
    root = parse(call_twiml(script=SCRIPT, audio_url=None, gather_url=GATHER, replay_url=REPLAY))
    assert tags(root) == ["Say", "Gather", "Redirect"]
    say, gather, redirect = list(root)
    assert (say.text, say.get("language"), say.get("voice")) == (SCRIPT, "cmn-CN", None)
    assert gather.attrib == {
        "numDigits": "1",
        "action": GATHER,
        "method": "POST",
        "timeout": str(GATHER_TIMEOUT_SECONDS),
    }
    prompt = gather.find("Say")
    assert prompt is not None
    assert "确认收到请按1，需要帮助请按2，重听请按9" in (prompt.text or "")
    assert prompt.get("language") == "cmn-CN"
    assert (redirect.text, redirect.get("method")) == (REPLAY, "POST")


def test_second_attempt_says_goodbye_and_hangs_up() -> None:
    root = parse(
        call_twiml(script=SCRIPT, audio_url=None, gather_url=GATHER, replay_url=REPLAY, attempt=2)
    )
    assert tags(root) == ["Say", "Gather", "Say", "Hangup"]
    assert root[2].text == PHRASES["cmn-CN"].goodbye


def test_without_a_replay_url_there_is_no_repeat() -> None:
    root = parse(call_twiml(script=SCRIPT, audio_url=None, gather_url=GATHER, attempt=1))
    assert tags(root) == ["Say", "Gather", "Say", "Hangup"]


def test_audio_is_played_instead_of_the_script_and_voice_is_passed() -> None:
    audio = "https://files.example.org/a.mp3?alert=1&lang=zh"
    root = parse(
        call_twiml(
            script=SCRIPT, audio_url=audio, gather_url=GATHER, voice="Polly.Zhiyu", attempt=2
        )
    )
    assert tags(root) == ["Play", "Gather", "Say", "Hangup"]
    assert root[0].text == audio
    assert all(say.get("voice") == "Polly.Zhiyu" for say in root.iter("Say"))
    assert SCRIPT not in ET.tostring(root, encoding="unicode")


def test_text_and_urls_are_escaped_and_bad_characters_dropped() -> None:
    hostile = "A & B <Hangup/> \"quoted\" 'single' ]]> \x00\x07 end"
    url = 'https://h.example.org/g?d=1&attempt=1&x="<>'
    document = call_twiml(script=hostile, audio_url=None, gather_url=url, attempt=2)
    root = parse(document)
    assert root[0].text == "A & B <Hangup/> \"quoted\" 'single' ]]>  end"
    assert root[1].get("action") == url
    assert len(list(root.iter("Hangup"))) == 1
    assert "\x00" not in document


def test_a_call_needs_something_to_say() -> None:
    with pytest.raises(ValueError, match="script or an audio"):
        call_twiml(script=None, audio_url=None, gather_url=GATHER)


def test_english_calls_speak_english() -> None:
    assert say_language("en") == "en-US"
    assert say_language("fr") == "cmn-CN"
    root = parse(
        call_twiml(script="Flood warning.", audio_url=None, gather_url=GATHER, language="en-US")
    )
    prompt = root[1].find("Say")
    assert prompt is not None
    assert "press 1" in (prompt.text or "")
    assert prompt.get("language") == "en-US"


def reply(digit: str, attempt: int = 1) -> ET.Element:
    return parse(
        gather_reply_twiml(digit, replay_url=REPLAY, gather_url=GATHER_NEXT, attempt=attempt)
    )


def test_key_1_thanks_and_hangs_up() -> None:
    root = reply("1")
    assert tags(root) == ["Say", "Hangup"]
    assert root[0].text == PHRASES["cmn-CN"].thanks


def test_key_2_tells_the_duty_officer_is_informed() -> None:
    root = reply("2", attempt=2)
    assert tags(root) == ["Say", "Hangup"]
    assert "已通知值班人员" in (root[0].text or "")


def test_key_9_replays_until_the_play_limit() -> None:
    root = reply("9")
    assert tags(root) == ["Redirect"]
    assert root[0].text == REPLAY
    last = reply("9", attempt=MAX_PLAYS)
    assert tags(last) == ["Say", "Hangup"]


@pytest.mark.parametrize("digit", ["5", "", "*", "12"])
def test_other_keys_prompt_once_more(digit: str) -> None:
    root = reply(digit)
    assert tags(root) == ["Gather", "Say", "Hangup"]
    gather = root[0]
    assert gather.get("action") == GATHER_NEXT
    prompt = gather.find("Say")
    assert prompt is not None
    assert (prompt.text or "").startswith("按键无效")
    again = reply(digit, attempt=2)
    assert tags(again) == ["Say", "Hangup"]
