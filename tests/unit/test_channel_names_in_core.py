"""The core names no channel: it plans, builds and limits by what a channel declares."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from channels.registry import build_registry

CORE = Path(__file__).resolve().parents[2] / "broadcaster"
# The demo, the simulator, benchmarks and migrations are configuration and tooling.
OUTSIDE = ("sim/", "bench/", "db/migrations/", "demo.py", "demo_providers.py", "sample/")

# What is left, each with its reason; this list may only shrink. Template names: texts are
# chosen by template file, which the provider templates of issue 18 replace by message kinds.
# The importer's "email" is a person's column, not the channel.
KNOWN = Counter(
    {
        ("alerts/audio.py", "loudspeaker"): 1,
        ("alerts/policy.py", "sms"): 1,  # the built-in policy when policies.toml is absent
        ("alerts/preview.py", "sms"): 1,
        ("alerts/preview.py", "voice"): 1,
        ("alerts/preview.py", "wecom_group"): 1,
        ("alerts/preview.py", "loudspeaker"): 1,
        ("alerts/preview.py", "email"): 1,
        ("web/relay.py", "wecom_group"): 1,
        ("delivery/items.py", "loudspeaker"): 1,  # the item field the loudspeaker push carries
        ("registry/importer/apply.py", "email"): 1,
    }
)


def installed_names() -> set[str]:
    """Every name of an installed channel: its registered name, its medium, its provider."""
    return {n for cls in build_registry().values() for n in (cls.name, cls.medium, cls.provider)}


def channel_literals() -> Counter[tuple[str, str]]:
    """Every string constant in the core equal to an installed channel's, medium's or
    provider's name (docstrings aside), by module."""
    names = installed_names()
    found: Counter[tuple[str, str]] = Counter()
    for path in sorted(CORE.rglob("*.py")):
        module = path.relative_to(CORE).as_posix()
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


def test_no_channel_name_is_written_in_the_core_beyond_the_known_rest() -> None:
    found = channel_literals()
    new = found - KNOWN
    assert not new, f"channel names written in the core: {sorted(new.elements())}"
    gone = KNOWN - found
    assert not gone, f"no longer there, take them off KNOWN: {sorted(gone.elements())}"
