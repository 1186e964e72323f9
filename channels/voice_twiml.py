"""TwiML of a warning call: the message, a one-key <Gather>, and the answer to each key."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

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
        help="已通知值班人员，请保持电话畅通，我们会尽快联系您。",
        invalid="按键无效。",
        goodbye="感谢收听，请注意安全，再见。",
    ),
    "en-US": Phrases(
        prompt="To confirm you received this, press 1. If you need help, press 2. "
        "To hear it again, press 9.",
        thanks="Thank you, your confirmation is recorded. Stay safe. Goodbye.",
        help="The duty officer has been told. Please keep your phone on; we will call you soon.",
        invalid="That key is not valid.",
        goodbye="Thank you for listening. Stay safe. Goodbye.",
    ),
}
SAY_LANGUAGES = {"zh-CN": "cmn-CN", "en": "en-US"}


def say_language(message_language: str) -> str:
    """The <Say> language of a message language (zh-CN → cmn-CN); Mandarin when unknown."""
    return SAY_LANGUAGES.get(message_language, "cmn-CN")


def _clean(text: str) -> str:
    """Text safe inside an XML document: no characters XML 1.0 forbids, markup escaped."""
    return html.escape(_NOT_XML.sub("", text), quote=True)


def _element(tag: str, attrs: dict[str, str | None], inner: str = "") -> str:
    rendered = "".join(f' {k}="{_clean(v)}"' for k, v in attrs.items() if v is not None)
    return f"<{tag}{rendered}>{inner}</{tag}>" if inner else f"<{tag}{rendered}/>"


def _say(text: str, language: str, voice: str | None) -> str:
    return _element("Say", {"language": language, "voice": voice}, _clean(text))


def _gather(action: str, inner: str) -> str:
    attrs: dict[str, str | None] = {
        "numDigits": "1",
        "action": action,
        "method": "POST",
        "timeout": str(GATHER_TIMEOUT_SECONDS),
    }
    return _element("Gather", attrs, inner)


def _redirect(url: str) -> str:
    return _element("Redirect", {"method": "POST"}, _clean(url))


def _document(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"


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
    if audio_url:
        message = _element("Play", {}, _clean(audio_url))
    elif script:
        message = _say(script, language, voice)
    else:
        raise ValueError("a call needs a script or an audio URL")
    phrases = _phrases(language)
    gather = _gather(gather_url, _say(phrases.prompt, language, voice))
    if attempt < REPROMPTS_UNTIL and replay_url:
        return _document(message, gather, _redirect(replay_url))
    return _document(message, gather, _say(phrases.goodbye, language, voice), "<Hangup/>")


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
    if digit == "1":
        return _document(_say(phrases.thanks, language, voice), "<Hangup/>")
    if digit == "2":
        return _document(_say(phrases.help, language, voice), "<Hangup/>")
    if digit == REPLAY_KEY and attempt < MAX_PLAYS:
        return _document(_redirect(replay_url))
    goodbye = (_say(phrases.goodbye, language, voice), "<Hangup/>")
    if digit == REPLAY_KEY or attempt >= REPROMPTS_UNTIL:
        return _document(*goodbye)
    prompt = _say(phrases.invalid + phrases.prompt, language, voice)
    return _document(_gather(gather_url, prompt), *goodbye)
