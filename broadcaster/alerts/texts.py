"""Message texts from the templates in config/templates, rendered once per alert."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from broadcaster.alerts.models import Alert

LINK_MARK = "\x00LINK\x00"
LANGUAGES = ("zh-CN", "en")


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
    """An alert's text for one channel and language, with a slot for the personal link."""

    template: str

    def personal(self, link: str) -> str:
        return self.template.replace(LINK_MARK, link)


def render(
    alert: Alert, *, channel: str, language: str, templates_dir: Path, sender: str
) -> MessageText:
    """The alert's text for `channel` in `language` (zh-CN when the language is unknown)."""
    language = language if language in LANGUAGES else "zh-CN"
    names = _names(templates_dir)[language]
    template = _environment(templates_dir).get_template(f"{language}/{channel}.txt.j2")
    text = template.render(
        drill=alert.is_drill,
        sender=sender,
        level_name=names["level"][alert.level.value],
        hazard_name=names["hazard"][alert.hazard.value],
        headline=alert.headline,
        body=alert.body,
        instruction=alert.instruction,
        link=LINK_MARK,
    )
    lines = (" ".join(line.split()) for line in text.splitlines())
    return MessageText("\n".join(line for line in lines if line))
