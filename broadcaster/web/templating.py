"""The Jinja2 environment of the pages, with gettext bound per request language."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from broadcaster.web.i18n import pick_language, translations

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations()  # type: ignore[attr-defined]
    env.filters["bilingual"] = in_language
    return env


def in_language(text: str, language: str) -> str:
    """A domain message written "中文 / English" in the page's language (as it is)."""
    chinese, separator, english = str(text).partition(" / ")
    if not separator:
        return str(text)
    return english if language == "en" else chinese


def request_language(request: Request) -> str:
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("accept-language"),
    )


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the request's language."""
    language = request_language(request)
    env = environment()
    tr = translations(language)
    page = env.get_template(template).render(
        _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext, lang=language, **context
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") == language:
        response.set_cookie("lang", language, max_age=365 * 86400, samesite="lax")
    return response
