"""Message texts from the templates in config/templates, rendered once per alert."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from broadcaster.alerts.clock import spoken
from broadcaster.alerts.models import Alert, AlertState
from channels.registry import form_of

LINK_MARK = "\x00LINK\x00"
# A clause asking to reply by SMS ("需要帮助请回复2", "reply 2 for help"): each channel's
# template says how to answer on that channel, so an instruction's own ask is dropped.
REPLY_ASK = re.compile(r"回复\s*[0-9０-９]|[Rr]eply\s+[0-9]|[Pp]ress\s+[0-9]|按\s*[0-9]")
CLAUSE_END = re.compile(r"(?<=[。；;！!])|(?<=\.\s)")
LANGUAGES = ("zh-CN", "en")
# Notices: what a delivery says instead of the warning (delivery.notice).
NOTICE_ALL_CLEAR = "all_clear"  # 解除: the warning is lifted
NOTICE_CANCEL = "cancel"  # 撤销: the warning was issued in error
NOTICE_RELEASED = "released"  # the area was narrowed: this household is no longer concerned
NOTICE_ACK_SAFE = "ack_safe"  # a resident's "safe" reply was received
NOTICE_ACK_HELP = "ack_help"  # a resident's call for help was received and passed on
# To the household's responsible worker (包保责任人) and the zone lead: it asked for help.
NOTICE_HELP = "help"


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text messages, never HTML  # noqa: S701
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=8)
def _names(templates_dir: Path) -> dict[str, dict[str, dict[str, str]]]:
    with (templates_dir / "names.toml").open("rb") as handle:
        return tomllib.load(handle)


@dataclass(frozen=True)
class MessageText:
    """An alert's text in one form and language, with a slot for the personal link."""

    template: str

    def personal(self, link: str) -> str:
        return self.template.replace(LINK_MARK, link)


def closing_notice(alert: Alert) -> str | None:
    """What an ended alert still says: the all-clear once lifted, the correction once
    cancelled (a call or an audio file made after it ended speaks that, not the warning)."""
    if alert.state is AlertState.closed:
        return NOTICE_ALL_CLEAR
    if alert.state is AlertState.cancelled and alert.issued_at is not None:
        return NOTICE_CANCEL
    return None


def template_names(language: str, channel: str, notice: str | None) -> list[str]:
    """The templates of the text form a medium declares (or of a form named directly): the
    form's own template of the notice, else the notice's for every form; the form's warning
    template when there is no notice."""
    form = form_of(channel) or channel
    if notice is None:
        return [f"{language}/{form}.txt.j2"]
    return [f"{language}/{form}_{notice}.txt.j2", f"{language}/notice_{notice}.txt.j2"]


def render(
    alert: Alert,
    *,
    channel: str,
    language: str,
    templates_dir: Path,
    sender: str,
    notice: str | None = None,
    zone: dt.tzinfo | None = None,
    note: str = "",
    **extra: str,
) -> MessageText:
    """The alert's text for `channel` (a medium, in the text form it declares, or a form of
    channels.base.TextForm) in `language` (zh-CN when the language is unknown):
    the warning as currently revised, or a `notice` about it (all_clear, cancel, released,
    ack_safe, ack_help; an ended alert's own notice when none is named). Times are in the
    district's `zone`."""
    language = language if language in LANGUAGES else "zh-CN"
    notice = notice or closing_notice(alert)
    template = _environment(templates_dir).select_template(
        template_names(language, channel, notice)
    )
    text = template.render(
        drill=alert.is_drill,
        link=LINK_MARK,
        # revisions: an update says so, an evacuation order (转移令) above all
        update=(alert.revision or 1) > 1,
        evacuate=bool(alert.evacuate),
        **message_values(
            alert,
            language=language,
            templates_dir=templates_dir,
            sender=sender,
            zone=zone,
            note=note,
        ),
        **extra,
    )
    lines = (" ".join(line.split()) for line in text.splitlines())
    return MessageText("\n".join(line for line in lines if line))


def message_values(
    alert: Alert,
    *,
    language: str,
    templates_dir: Path,
    sender: str,
    zone: dt.tzinfo | None = None,
    note: str = "",
) -> dict[str, str]:
    """The values a text of the alert is made of (our templates and providers' approved
    ones alike): sender, level and hazard names, headline, body, instruction without its
    reply ask, when it was issued, and the officer's note with an all-clear or cancel."""
    language = language if language in LANGUAGES else "zh-CN"
    names = _names(templates_dir)[language]
    return {
        "sender": sender,
        "level_name": names["level"][alert.level.value],
        "hazard_name": names["hazard"][alert.hazard.value],
        "headline": alert.headline,
        "body": alert.body,
        "instruction": without_reply_ask(alert.instruction),
        "issued": spoken(alert.issued_at, zone, language),
        "note": note,
    }


def message_kind(alert: Alert, notice: str | None = None) -> str:
    """What a text of the alert is (channels.templated.KINDS): its notice (an ended alert's
    own when none is named), else an evacuation order, an update or the warning."""
    notice = notice or closing_notice(alert)
    if notice:
        return notice
    if alert.evacuate:
        return "evacuate"
    return "update" if (alert.revision or 1) > 1 else "alert"


def without_reply_ask(text: str) -> str:
    """The text without clauses asking for an SMS reply or a key press (they are the
    templates' business: the SMS asks for a reply, the call for a key, the loudspeaker and
    the public page for neither)."""
    clauses = [c for c in CLAUSE_END.split(text) if c and not REPLY_ASK.search(c)]
    kept = "".join(clauses).strip()
    return kept[:-1] + "。" if kept.endswith(("；", ";")) else kept
