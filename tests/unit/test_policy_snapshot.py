"""The policy snapshot: stored as the level's table, read back typed, wrong keys named."""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any

import pytest

from broadcaster.alerts.models import AlertSource, Level
from broadcaster.alerts.policy import choose_channels, needs_approval, parse_policy, snapshot
from broadcaster.errors import ValidationFailed
from broadcaster.followup.steps import escalation
from broadcaster.settings import PACKAGE_CONFIG_DIR


def test_the_stored_snapshot_is_the_levels_table_as_written() -> None:
    with (PACKAGE_CONFIG_DIR / "policies.toml").open("rb") as handle:
        tables = tomllib.load(handle)
    for level in Level:
        stored = snapshot(PACKAGE_CONFIG_DIR, level)
        assert stored == tables[level.value]
        parse_policy(stored)  # every shipped level is valid


def test_the_red_policy_read_back() -> None:
    red = parse_policy(snapshot(PACKAGE_CONFIG_DIR, Level.red))
    assert red.start_channels == ("sms", "voice", "wecom_group", "loudspeaker")
    assert needs_approval(red, AlertSource.feed)
    assert not needs_approval(red, AlertSource.officer)
    assert (red.relay_after, red.loudspeaker_plays) == (dt.timedelta(minutes=10), 3)
    plan = escalation(red)
    assert [(s.after, s.channel) for s in plan.steps] == [
        (dt.timedelta(minutes=10), "voice"),
        (dt.timedelta(minutes=20), None),
    ]
    assert (plan.visit_vulnerable_at_once, plan.reassign_after) == (True, dt.timedelta(minutes=30))


def test_defaults_of_an_empty_table() -> None:
    empty = parse_policy({})
    assert empty.channels is None
    assert empty.start_channels == ("sms",)
    assert choose_channels(None, empty, {"sms", "voice"}) == ["sms"]
    assert parse_policy({"channels": []}).start_channels == ()
    assert escalation(empty).steps == ()
    assert escalation(empty).reassign_after == dt.timedelta(minutes=30)
    assert not needs_approval(empty, AlertSource.officer)
    assert needs_approval(parse_policy({"two_person": True}), AlertSource.officer)
    assert not needs_approval(parse_policy({"two_person": True}), AlertSource.feed)


@pytest.mark.parametrize(
    ("table", "field", "words"),
    [
        ({"steps": [{"after": "soon", "channel": "voice"}]}, "steps[0].after", "bad duration"),
        ({"steps": [{"after": "1m", "visit": True}, {"after": "2m"}]}, "steps[1]", "channel or"),
        ({"visit_reassign_after": -5}, "visit_reassign_after", "bad duration"),
        ({"approval": {"feed": "perhaps"}}, "approval.feed", "bad policy"),
        ({"loudspeaker_plays": "twice"}, "loudspeaker_plays", "bad policy"),
        ({"proxy_still_visit": ["卧床"]}, "proxy_still_visit", "unknown vulnerability: 卧床"),
    ],
)
def test_a_wrong_key_is_named(table: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationFailed, match=words) as bad:
        parse_policy(table)
    assert bad.value.field == field


def test_a_proxys_answer_is_final_except_for_bedridden_and_lone_elderly_by_default() -> None:
    policy = parse_policy({})
    assert policy.proxy_still_visit == ("bedridden", "elderly_alone")
    assert not policy.proxy_is_final(["disabled", "bedridden"])
    assert not policy.proxy_is_final(["elderly_alone"])
    assert policy.proxy_is_final(["disabled"])
    assert policy.proxy_is_final([])
    assert parse_policy({"proxy_still_visit": []}).proxy_is_final(["bedridden"])


def test_escalation_steps_reach_households_only() -> None:
    policy = parse_policy({"steps": [{"after": "5m", "channel": "sms"}, {"channel": "relay"}]})
    with pytest.raises(ValidationFailed, match="reach households") as bad:
        escalation(policy)
    assert bad.value.field == "steps[1]"
