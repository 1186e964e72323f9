"""No page template carries inline script, style or event handlers (the CSP forbids them)."""

from __future__ import annotations

import re
from pathlib import Path

from broadcaster.web import STATIC_DIR

TEMPLATES = Path(STATIC_DIR).parent / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>")
INLINE_STYLE = re.compile(r"<style\b|\sstyle=")
HANDLER = re.compile(r"\son[a-z]+=|javascript:", re.IGNORECASE)


def test_templates_have_nothing_inline() -> None:
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text()
        for name, pattern in (
            ("script", INLINE_SCRIPT),
            ("style", INLINE_STYLE),
            ("handler", HANDLER),
        ):
            found += [f"{path.name}: inline {name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert found == []
    assert len(list(TEMPLATES.glob("*.html"))) > 20


def test_scripts_write_no_inline_markup() -> None:
    for path in Path(STATIC_DIR).glob("*.js"):
        text = path.read_text()
        assert not INLINE_STYLE.search(text), path.name
        assert not re.search(r"\bon[a-z]+=\"", text), path.name
        assert "eval(" not in text, path.name
