"""The core names no channel: it plans, builds and limits by what a channel declares."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from channels.registry import build_registry

CORE = Path(__file__).resolve().parents[2] / "broadcaster"
# The demo, the simulator, benchmarks and migrations are configuration and tooling.
OUTSIDE = ("sim/", "bench/", "db/migrations/", "demo.py", "demo_providers.py", "sample/")


def installed_names() -> set[str]:
    """Every name of an installed channel: its registered name, its medium, its provider."""
    return {n for cls in build_registry().values() for n in (cls.name, cls.medium, cls.provider)}


def channel_literals(root: Path = CORE) -> Counter[tuple[str, str]]:
    """Every string constant in the core (`root`) equal to an installed channel's, medium's
    or provider's name (docstrings aside), by module."""
    names = installed_names()
    found: Counter[tuple[str, str]] = Counter()
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module.startswith(OUTSIDE):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in names
                and id(node) not in docstrings
            ):
                found[(module, node.value)] += 1
    return found


def test_the_scan_sees_the_built_in_channels() -> None:
    assert {"sms", "voice", "wecom_group", "email", "loudspeaker", "relay"} <= set(build_registry())
    assert {"twilio", "smtp"} <= installed_names()  # providers too


def test_no_channel_name_is_written_in_the_core() -> None:
    found = channel_literals()
    assert not found, f"channel names written in the core: {sorted(found.elements())}"


def test_the_scan_finds_a_name_in_code_but_not_in_docstrings_or_the_demo(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "x.py").write_text(
        '"""Sends by sms."""\n\n\ndef f():\n    """Or voice."""\n    return ["sms", "smsx"]\n'
    )
    (tmp_path / "demo.py").write_text('CHANNELS = ["voice"]\n')
    assert channel_literals(tmp_path) == Counter({("flows/x.py", "sms"): 1})
