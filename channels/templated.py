"""Approved provider templates: the template code that carries each message kind, its
variables and the exact text it produces (mainland SMS and voice providers send only these).

Hand-written: the providers' SDKs send a template code and its parameters but know nothing of
which approved template says what; that mapping is each deployment's, kept in
config/templates/providers/<provider>.toml (format in that directory's README)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from channels.base import ChannelError, Message

# What a text can be about; a book may refine a kind per hazard and level ("alert.flash_flood",
# "alert.red", "alert.flash_flood.red") and falls back to the plain kind.
KINDS = (
    "alert",  # the warning
    "update",  # a revised warning
    "evacuate",  # an evacuation order (转移令)
    "all_clear",  # 解除
    "cancel",  # 撤销: issued in error
    "released",  # the area was narrowed: no longer concerned
    "ack_safe",  # a resident's "safe" reply was received
    "ack_help",  # a resident's call for help was received and passed on
    "relay",  # to the owner of a group without an API, to forward
    "help_notice",  # to a household's responsible worker and the zone lead: help is needed
    "proxy",  # the warning to a household's proxy contact (代联系人), with the public page
)
DRILL = "drill."  # a drill's templates: drill.<kind>, drill.<kind>.<hazard>, …
KIND_RELAY = "relay"
KIND_HELP_NOTICE = "help_notice"
KIND_PROXY = "proxy"
VARIABLE = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]{0,24})\}")
SEGMENT = 67  # characters per part of a long SMS (70 for a single one)


class TemplateRefused(ChannelError):
    """A message no approved template can carry as it stands: named kind, variable, reason."""

    def __init__(self, provider: str, kind: str, reason: str, variable: str | None = None) -> None:
        where = f"{kind}.{variable}" if variable else kind
        super().__init__(f"{provider} 模板 {where}: {reason}", code="template_refused")
        self.provider = provider
        self.kind = kind
        self.variable = variable
        self.reason = reason


@dataclass(frozen=True)
class Template:
    """One approved template: its code, its text with ${variables}, and for each variable
    the message value it takes and how long that value may be."""

    code: str
    text: str
    sources: dict[str, str]  # template variable → message value name
    max_chars: dict[str, int]  # template variable → its limit


@dataclass(frozen=True)
class Filled:
    """A template with its parameters: what the provider is sent, and the text it makes."""

    code: str
    params: dict[str, str]
    text: str

    @property
    def length(self) -> int:
        return len(self.text)

    @property
    def segments(self) -> int:
        """SMS parts: one up to 70 characters, else 67 a part."""
        return 1 if self.length <= 70 else -(-self.length // SEGMENT)


@dataclass(frozen=True)
class TemplateBook:
    """A provider's approved templates under one signature (签名)."""

    provider: str
    sign_name: str
    templates: dict[str, Template] = field(default_factory=dict)

    def template_for(self, message: Message) -> tuple[str, Template]:
        """The most specific template of the message's kind, hazard and level; for a drill,
        only one approved as a drill's (`drill.<kind>…`): its text must say it is a drill."""
        kind, hazard, level = message.kind, message.hazard, message.level
        keys = (f"{kind}.{hazard}.{level}", f"{kind}.{hazard}", f"{kind}.{level}", kind)
        for key in (f"{DRILL}{key}" for key in keys) if message.drill else keys:
            if key in self.templates:
                return key, self.templates[key]
        if message.drill:
            raise TemplateRefused(
                self.provider, f"{DRILL}{kind}", "没有已审核的演练模板 / no approved drill template"
            )
        raise TemplateRefused(self.provider, kind, "没有已审核的模板 / no approved template")

    def fill(self, message: Message) -> Filled:
        """The template's code, parameters and exact text for `message`; refused when a value
        is missing or over its variable's limit (nothing is sent then)."""
        key, template = self.template_for(message)
        params: dict[str, str] = {}
        for variable, source in template.sources.items():
            value = message.values.get(source)
            if value is None:
                raise TemplateRefused(
                    self.provider, key, f"缺少内容 {source} / no value for {source}", variable
                )
            limit = template.max_chars[variable]
            if len(value) > limit:
                raise TemplateRefused(
                    self.provider,
                    key,
                    f"{len(value)} 字超过上限 {limit} 字 / {len(value)} characters, "
                    f"the limit is {limit}",
                    variable,
                )
            params[variable] = value
        text = VARIABLE.sub(lambda m: params[m.group(1)], template.text)
        return Filled(
            template.code, params, f"【{self.sign_name}】{text}" if self.sign_name else text
        )


def book_path(config_dir: Path, provider: str) -> Path:
    return config_dir / "templates" / "providers" / f"{provider}.toml"


@lru_cache(maxsize=16)
def load_book(path: Path, public_base: str = "") -> TemplateBook:
    """A provider's template book from its file; `{public_base}` in a template's text is the
    service's public URL (approved templates fix the link's domain, only its path varies).
    A broken file is an error naming the template and the fault, at start-up."""
    provider = path.stem
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ChannelError(f"模板文件无效 / template file {path}: {exc}", code="templates") from exc
    default_max = int(raw.get("max_variable_chars", 35))
    templates = {
        key: _template(provider, key, entry, default_max, public_base)
        for key, entry in raw.get("templates", {}).items()
    }
    return TemplateBook(provider, str(raw.get("sign_name", "")), templates)


def _template(
    provider: str, key: str, entry: dict[str, Any], default_max: int, public_base: str
) -> Template:
    if key.removeprefix(DRILL).split(".")[0] not in KINDS:
        raise ChannelError(f"{provider} 模板 {key}: 未知类型 / unknown kind", code="templates")
    text = str(entry.get("text", "")).replace("{public_base}", public_base)
    sources = {str(k): str(v) for k, v in entry.get("variables", {}).items()}
    used = set(VARIABLE.findall(text))
    if not entry.get("code") or not text or used != set(sources):
        raise ChannelError(
            f"{provider} 模板 {key}: 需要 code、text，且 variables 与文中变量一致 / needs a code, "
            f"a text, and variables matching the text's {sorted(used)}",
            code="templates",
        )
    limits = {str(k): int(v) for k, v in entry.get("max_chars", {}).items()}
    return Template(
        str(entry["code"]), text, sources, {v: limits.get(v, default_max) for v in sources}
    )
