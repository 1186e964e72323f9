"""A second, template-only SMS provider installed for a test (tests/fixtures/templated_dist:
Acme SMS, `sms_acme`), and a configuration whose book of approved templates it reads."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.settings import PACKAGE_CONFIG_DIR
from channels.registry import registered
from channels.templated import load_book

DIST = Path(__file__).resolve().parents[1] / "fixtures" / "templated_dist"
SHIPPED_BOOK = PACKAGE_CONFIG_DIR / "templates" / "providers" / "sms_aliyun.toml"


@pytest.fixture
def acme_sms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Acme SMS installed: on sys.path here, on PYTHONPATH for worker processes."""
    sys.path.insert(0, str(DIST))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(DIST), os.environ.get("PYTHONPATH")]))
    )
    registered.cache_clear()
    try:
        yield DIST
    finally:
        sys.path.remove(str(DIST))
        sys.modules.pop("acme_sms", None)
        registered.cache_clear()
        load_book.cache_clear()


def config_with_book(tmp_path: Path, *, headline_max: int = 35) -> Path:
    """The shipped configuration, with Acme's book: the Aliyun SMS templates as shipped, the
    headline limited to `headline_max` characters."""
    target = tmp_path / "config"
    shutil.copytree(PACKAGE_CONFIG_DIR, target, dirs_exist_ok=True)
    write_book(target, headline_max=headline_max)
    return target


def write_book(config: Path, *, headline_max: int) -> None:
    """Acme's book rewritten (its lengths read anew on the next load)."""
    lines: list[str] = []
    limited = False  # the current template takes a headline
    for line in SHIPPED_BOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and limited:
            lines.append(f"max_chars = {{ headline = {headline_max} }}")
        if line.startswith("["):
            limited = False
        if line.startswith("variables") and 'headline = "headline"' in line:
            limited = True
        if line.startswith("max_chars") and limited:  # the template's own limits, and ours
            line = line.replace("{", f"{{ headline = {headline_max},", 1)
            limited = False
        lines.append(line)
    if limited:
        lines.append(f"max_chars = {{ headline = {headline_max} }}")
    text = "\n".join(lines) + "\n"
    (config / "templates" / "providers" / "sms_acme.toml").write_text(text, encoding="utf-8")
    load_book.cache_clear()
