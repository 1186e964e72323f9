"""A policy file that leaves some household unaddressed is refused at start-up: the API, the
worker and the demo name the level and the reason (Chinese first, then English)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from broadcaster.alerts.policy import load_policies, parse_policy
from broadcaster.alerts.policy_check import PolicyRefused, check_policies, problems, refusals
from broadcaster.app import create_app
from broadcaster.settings import PACKAGE_CONFIG_DIR, Settings

SMS_ONLY_BLUE = """
[blue]
channels = ["sms"]
steps = [{ after = "30m", channel = "sms" }]

[red]
channels = ["sms", "voice"]
steps = [{ after = "20m", visit = true }]
"""


def config(tmp_path: Path, policies: str) -> Path:
    target = tmp_path / "config"
    target.mkdir()
    (target / "policies.toml").write_text(policies, encoding="utf-8")
    return target


def test_the_shipped_policies_and_the_built_in_default_are_accepted(tmp_path: Path) -> None:
    check_policies(PACKAGE_CONFIG_DIR)
    check_policies(tmp_path)  # no policies.toml: the built-in default of every level
    for table in load_policies(tmp_path).values():
        assert problems(parse_policy(table)) == []


def test_a_level_without_a_visit_step_is_refused_naming_the_level_and_why(
    tmp_path: Path,
) -> None:
    with pytest.raises(PolicyRefused) as refused:
        check_policies(config(tmp_path, SMS_ONLY_BLUE))
    message = str(refused.value)
    blue = [line for line in message.splitlines() if "[blue]" in line]
    assert len(blue) == 2, message
    assert "没有上门步骤" in blue[0]
    assert "no visit step" in blue[0]
    assert "仅有座机" in blue[1]
    assert "no channel calls landlines" in blue[1]
    assert "[red]" not in message  # red calls and visits: accepted
    assert "[yellow]" not in message  # left out of the file: the built-in default


def test_a_level_that_calls_but_never_visits_is_refused_for_households_without_a_phone() -> None:
    lines = refusals({"orange": {"channels": ["sms", "voice"]}})
    assert len(lines) == 1
    assert lines[0].startswith("[orange] 没有上门步骤")
    assert "without a phone" in lines[0]


def test_a_bad_table_or_file_is_refused_too(tmp_path: Path) -> None:
    lines = refusals({"red": {"steps": [{"after": "soon", "visit": True}]}})
    assert lines == ["[red] 无效时长 / bad duration 'soon' (steps[0].after)"]
    with pytest.raises(PolicyRefused, match="unreadable"):
        check_policies(config(tmp_path, "[blue\n"))


def test_the_api_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(
        env="test", data_dir=tmp_path / "var", config_dir=config(tmp_path, SMS_ONLY_BLUE)
    )
    with pytest.raises(PolicyRefused, match=r"\[blue\]"):
        create_app(settings)


@pytest.mark.parametrize("command", [["worker", "--burst"], ["demo"], ["serve"]])
def test_the_worker_demo_and_server_refuse_to_start(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(
        BROADCASTER_ENV="test",
        BROADCASTER_DATA_DIR=str(tmp_path / "var"),
        BROADCASTER_CONFIG_DIR=str(config(tmp_path, SMS_ONLY_BLUE)),
        BROADCASTER_REDIS_URL="redis://127.0.0.1:1/0",  # never reached: refused before
        COLUMNS="200",
    )
    done = subprocess.run(
        [sys.executable, "-m", "broadcaster.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[blue] 没有上门步骤" in done.stdout
    assert "no visit step" in done.stdout
