"""`broadcaster demo` sends through the providers it names, every one played by its simulator:
by default an alert's SMS goes through Aliyun and a resident's reply "1" confirms; with
`--providers twilio` the SMS go through Twilio, as before."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from broadcaster.sim.aliyun_sms_config import approved_templates
from tests.stack import free_port, wait_until

pytestmark = pytest.mark.integration
KEY = "bk_demo_providers_test_0123456789abcdef"
ALERT_TEMPLATE = "SMS_480000110"  # the approved alert template of the shipped Aliyun book
ALERT = {
    "hazard": "rain",
    "level": "yellow",
    "headline": "暴雨黄色预警",
    "body": "预计未来6小时降雨量将达30毫米以上。",
    "zones": ["DEMO"],
    "channels": ["sms"],
}


@contextmanager
def running_demo(data_dir: Path, *options: str) -> Iterator[tuple[httpx.Client, str]]:
    """The demo with a small district: an API client with the admin key, and its banner."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(BROADCASTER_DATA_DIR=str(data_dir), BROADCASTER_BOOTSTRAP_API_KEY=KEY, COLUMNS="300")
    command = [sys.executable, "-m", "broadcaster.cli", "demo", "--households", "10"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = read_banner(proc)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:

            def up() -> bool:
                try:
                    return client.get("/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(up, timeout=120)
            yield client, banner
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_banner(proc: subprocess.Popen[str], timeout: float = 240) -> str:
    """The demo's start-up lines, up to its DEMO ONLY warning."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if "DEMO ONLY" in line:
            break
    return "".join(lines)


def issue(client: httpx.Client) -> int:
    created = client.post("/api/v1/alerts", json=ALERT)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def counts(client: httpx.Client, alert_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/v1/alerts/{alert_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["counts"]
    return found


def carried(client: httpx.Client, alert_id: int, provider: str) -> int:
    """The alert's SMS a provider accepted."""
    entry = counts(client, alert_id)["by_provider"].get(provider, {})
    return int(entry.get("media", {}).get("sms", 0))


def test_the_demo_texts_through_aliyun_and_a_reply_of_1_confirms(tmp_path: Path) -> None:
    with running_demo(tmp_path / "var") as (client, banner):
        assert (
            "providers (the simulator plays them all): relay 群转发（阿里云短信） (aliyun) → "
            "群转发（腾讯云短信） (tencent) · sms 阿里云短信 (aliyun) → 腾讯云短信 (tencent) · "
            "voice 阿里云语音 (aliyun)"
        ) in banner
        alert_id = issue(client)
        wait_until(lambda: carried(client, alert_id, "aliyun") > 0)
        sent = client.get("/sim/api/aliyun/sms").json()["sms"]
        alerts = [s for s in sent if s["TemplateCode"] == ALERT_TEMPLATE]
        assert alerts, f"the Aliyun simulator received no alert: {sent}"
        assert {s["TemplateCode"] for s in sent} <= set(approved_templates()[1])
        assert all(s["text"].startswith("【防汛抗旱指挥部】") for s in sent)
        assert carried(client, alert_id, "twilio") == 0
        assert client.get("/sim/api/tencent/sms").json()["sms"] == []
        assert counts(client, alert_id)["households_confirmed"] == 0

        phone = alerts[0]["phone_number"]
        reply = client.post("/sim/api/aliyun/sms/up", json={"phone_number": phone, "content": "1"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["ok"] is True  # our SmsUp hook took it (token in the push URL)
        wait_until(lambda: counts(client, alert_id)["households_confirmed"] >= 1)


def test_the_demo_with_twilio_texts_through_twilio(tmp_path: Path) -> None:
    with running_demo(tmp_path / "var", "--providers", "twilio") as (client, banner):
        assert (
            "providers (the simulator plays them all): relay 群转发 (twilio) · sms 短信 (twilio) "
            "· voice"
        ) in banner
        alert_id = issue(client)
        wait_until(lambda: carried(client, alert_id, "twilio") > 0)
        texts = client.get("/sim/api/messages").json()["messages"]
        assert any("暴雨黄色预警" in m["body"] for m in texts)
        assert carried(client, alert_id, "aliyun") == 0
        assert client.get("/sim/api/aliyun/sms").json()["sms"] == []
