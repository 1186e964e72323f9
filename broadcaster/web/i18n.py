"""Translations: Chinese is the source language; other languages come from .po catalogs."""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "zh-CN"
SUPPORTED = ("zh-CN", "en")


class _CatalogTranslations(gettext.NullTranslations):
    """gettext over a catalog read straight from its .po file (no compiled .mo to ship)."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


@lru_cache(maxsize=8)
def translations(language: str) -> gettext.NullTranslations:
    """The translations for a language; Chinese (the source) needs none."""
    if language not in SUPPORTED or language == DEFAULT:
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return _CatalogTranslations({str(m.id): str(m.string) for m in catalog if m.id and m.string})


def pick_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """?lang= wins, then the cookie, then Accept-Language; Chinese by default."""
    for candidate in (query, cookie):
        if candidate in SUPPORTED:
            return candidate
    if accept and accept.lower().startswith("en"):
        return "en"
    return DEFAULT


__all__ = ["DEFAULT", "SUPPORTED", "Translations", "pick_language", "translations"]
