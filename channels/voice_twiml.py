"""TwiML of a warning call: the message, a one-key <Gather>, and the answer to each key."""

from __future__ import annotations

import re
from dataclasses import dataclass

from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

GATHER_TIMEOUT_SECONDS = 8
# `attempt` counts the prompts of one call: silence and a wrong key get one more prompt;
# key 9 replays the message while attempt < MAX_PLAYS.
REPROMPTS_UNTIL = 2
MAX_PLAYS = 3
REPLAY_KEY = "9"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Phrases:
    """What the call says around the message, in one Say language."""

    prompt: str
    thanks: str
    help: str
    invalid: str
    goodbye: str


PHRASES = {
    "cmn-CN": Phrases(
        prompt="确认收到请按1，需要帮助请按2，重听请按9。",
        thanks="已确认收到，谢谢。请注意安全，再见。",
        help="已通知值班人员和包保责任人，请保持电话畅通，我们会尽快联系您。",
        invalid="按键无效。",
        goodbye="感谢收听，请注意安全，再见。",
    ),
    "en-US": Phrases(
        prompt="To confirm you received this, press 1. If you need help, press 2. "
        "To hear it again, press 9.",
        thanks="Thank you, your confirmation is recorded. Stay safe. Goodbye.",
        help="The duty officer and the official responsible for your household have been told. "
        "Please keep your phone on; we will call you soon.",
        invalid="That key is not valid.",
        goodbye="Thank you for listening. Stay safe. Goodbye.",
    ),
}
SAY_LANGUAGES = {"zh-CN": "cmn-CN", "en": "en-US"}


def say_language(message_language: str) -> str:
    """The <Say> language of a message language (zh-CN → cmn-CN); Mandarin when unknown."""
    return SAY_LANGUAGES.get(message_language, "cmn-CN")


def _clean(text: str) -> str:
    """Text without the characters XML 1.0 forbids (the twilio library escapes markup)."""
    return _NOT_XML.sub("", text)


def _say(parent: TwiML, text: str, language: str, voice: str | None) -> None:
    parent.say(
        _clean(text), language=_clean(language), voice=None if voice is None else _clean(voice)
    )


def _gather(response: VoiceResponse, action: str) -> TwiML:
    return response.gather(
        num_digits=1, action=_clean(action), method="POST", timeout=GATHER_TIMEOUT_SECONDS
    )


def _redirect(response: VoiceResponse, url: str) -> None:
    response.redirect(_clean(url), method="POST")


def _goodbye(response: VoiceResponse, text: str, language: str, voice: str | None) -> str:
    """The finished document: `text` said last, then the call hung up."""
    _say(response, text, language, voice)
    response.hangup()
    return _document(response)


def _document(response: VoiceResponse) -> str:
    """The TwiML document, with its XML declaration."""
    return str(response.to_xml(xml_declaration=True))


def _phrases(language: str) -> Phrases:
    return PHRASES.get(language, PHRASES["cmn-CN"])


def call_twiml(
    *,
    script: str | None,
    audio_url: str | None,
    gather_url: str,
    language: str = "cmn-CN",
    voice: str | None = None,
    attempt: int = 1,
    replay_url: str | None = None,
) -> str:
    """The call: audio (<Play>) or the spoken script, then one key press.

    With no key pressed on the first attempt the call goes to `replay_url` (the same
    TwiML for attempt 2) when given; otherwise it says goodbye and hangs up."""
    response = VoiceResponse()
    if audio_url:
        response.play(_clean(audio_url))
    elif script:
        _say(response, script, language, voice)
    else:
        raise ValueError("a call needs a script or an audio URL")
    phrases = _phrases(language)
    _say(_gather(response, gather_url), phrases.prompt, language, voice)
    if attempt < REPROMPTS_UNTIL and replay_url:
        _redirect(response, replay_url)
        return _document(response)
    return _goodbye(response, phrases.goodbye, language, voice)


def gather_reply_twiml(
    digit: str,
    *,
    replay_url: str,
    gather_url: str,
    language: str = "cmn-CN",
    voice: str | None = None,
    attempt: int = 1,
) -> str:
    """The answer to a key pressed at `attempt`: 1 thanks, 2 help is coming, 9 replays the
    message (at `replay_url`), anything else prompts once more (its keys go to `gather_url`).
    Both URLs are for the next attempt."""
    phrases = _phrases(language)
    response = VoiceResponse()
    if digit == "1":
        return _goodbye(response, phrases.thanks, language, voice)
    if digit == "2":
        return _goodbye(response, phrases.help, language, voice)
    if digit == REPLAY_KEY and attempt < MAX_PLAYS:
        _redirect(response, replay_url)
        return _document(response)
    if digit != REPLAY_KEY and attempt < REPROMPTS_UNTIL:
        _say(_gather(response, gather_url), phrases.invalid + phrases.prompt, language, voice)
    return _goodbye(response, phrases.goodbye, language, voice)


def hangup_twiml() -> str:
    """A document that ends the call at once."""
    response = VoiceResponse()
    response.hangup()
    return _document(response)
