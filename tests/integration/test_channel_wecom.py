"""The WeCom group channel against the simulator under uvicorn on loopback: real HTTP, no mocks."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from broadcaster.sim import SimConfig, create_standalone_app
from broadcaster.sim.wecom import WecomSimConfig
from channels.base import Outcome, SendItem, SendResult
from channels.wecom_group import PER_ROBOT_PER_MINUTE, WecomGroup, WecomGroupSettings
from tests.integration.sim_support import WAIT_SECONDS, ServerThread

KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"
OTHER_KEY = "0b8c2d4e-1111-4222-8333-944455556666"
LINK = "https://warn.example.org/c/AbCdEf0123456789"
BODY = f"【红色预警】暴雨，低洼地区请立即转移。\n确认收到请点：{LINK}"
GROUPS = {KEY: "一村三组", OTHER_KEY: "二村网格群"}


@dataclass
class Sim:
    url: str
    control: httpx.Client

    def messages(self, key: str | None = None) -> list[dict[str, Any]]:
        response = self.control.get("/api/wecom/messages", params={"key": key} if key else {})
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["messages"]
        return found

    def configure(self, **knobs: Any) -> None:
        self.control.post("/api/wecom/config", json=knobs).raise_for_status()


@pytest.fixture(scope="module")
def sim_running() -> Iterator[Sim]:
    config = SimConfig(seed=3, wecom=WecomSimConfig(keys=GROUPS))
    with ServerThread(create_standalone_app(config)) as server:
        url = f"http://127.0.0.1:{server.port}/sim"
        with httpx.Client(base_url=url, timeout=WAIT_SECONDS) as control:
            yield Sim(url, control)


@pytest.fixture
def sim(sim_running: Sim) -> Sim:
    defaults = WecomSimConfig(keys=GROUPS).model_dump(mode="json")
    sim_running.configure(**defaults)
    sim_running.control.post("/api/wecom/reset").raise_for_status()
    return sim_running


async def send(base_url: str, items: list[SendItem], **settings: Any) -> list[SendResult]:
    channel = WecomGroup(WecomGroupSettings(api_base_url=base_url, **settings))
    await channel.open()
    try:
        return await channel.send_batch(items)
    finally:
        await channel.close()


async def test_text_with_mentions_arrives_in_the_group(sim: Sim) -> None:
    extra = {
        "mentioned_mobile_list": ["+86 138-0000-1111", "13900002222"],
        "mentioned_list": ["zhangsan"],
    }
    [result] = await send(sim.url, [SendItem(11, KEY, BODY, extra=extra)])
    assert (result.key, result.outcome, result.provider_id) == (11, Outcome.accepted, None)
    [posted] = sim.messages(KEY)
    assert posted["group"] == "一村三组"
    assert (posted["msgtype"], posted["content"]) == ("text", BODY)
    assert posted["mentioned_mobile_list"] == ["13800001111", "13900002222"]
    assert posted["mentioned_list"] == ["zhangsan"]
    assert posted["errcode"] == 0


async def test_markdown_mode_posts_markdown(sim: Sim) -> None:
    body = f"## 红色预警\n> 低洼地区请立即转移\n[确认收到]({LINK})"
    item = SendItem(1, KEY, body, extra={"mentioned_list": ["lisi"]})
    [result] = await send(sim.url, [item], message_type="markdown")
    assert result.outcome is Outcome.accepted
    [posted] = sim.messages(KEY)
    assert posted["msgtype"] == "markdown"
    assert posted["content"] == body + "\n<@lisi>"


async def test_long_text_is_cut_to_the_limit_and_keeps_the_link(sim: Sim) -> None:
    body = "请低洼地区居民立即转移到安全地点。" * 60 + f"\n确认收到请点：{LINK}"
    [result] = await send(sim.url, [SendItem(1, KEY, body)])
    assert result.outcome is Outcome.accepted
    assert result.detail["truncated"] is True
    [posted] = sim.messages(KEY)
    assert len(posted["content"].encode()) <= 2048
    assert posted["content"].endswith(f"…\n确认收到请点：{LINK}")


async def test_past_twenty_a_minute_the_robot_answers_45009_and_it_comes_back_as_retry(
    sim: Sim,
) -> None:
    items = [SendItem(i, KEY, f"{BODY}?n={i}") for i in range(PER_ROBOT_PER_MINUTE + 3)]
    items.append(SendItem(100, OTHER_KEY, BODY))
    results = await send(sim.url, items)
    assert sorted(r.key for r in results) == sorted(i.key for i in items)  # none lost
    by_outcome: dict[Outcome, list[SendResult]] = {}
    for result in results:
        by_outcome.setdefault(result.outcome, []).append(result)
    assert len(by_outcome[Outcome.accepted]) == PER_ROBOT_PER_MINUTE + 1
    assert len(by_outcome[Outcome.retry]) == 3
    assert {r.error_code for r in by_outcome[Outcome.retry]} == {"45009"}
    assert all("api freq out of limit" in r.message for r in by_outcome[Outcome.retry])
    assert [m["errcode"] for m in sim.messages(OTHER_KEY)] == [0]  # per robot, not global
    errcodes = [m["errcode"] for m in sim.messages(KEY)]
    assert (errcodes.count(0), errcodes.count(45009)) == (PER_ROBOT_PER_MINUTE, 3)


async def test_unknown_key_fails_with_93000_and_the_key_is_never_logged(
    sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "ffffffff-dead-beef-0000-unregistered"
    with caplog.at_level(logging.INFO, logger="channels.wecom_group"):
        [result] = await send(sim.url, [SendItem(5, secret, BODY)])
    assert (result.outcome, result.error_code) == (Outcome.failed, "93000")
    assert result.message.startswith("invalid webhook url")
    assert result.detail["robot"] == "ffff…ered"
    assert "ffff…ered" in caplog.text
    assert secret not in caplog.text
    assert secret not in result.message


async def test_a_key_the_provider_refuses_for_good_fails_with_its_errcode(sim: Sim) -> None:
    sim.configure(key_errcodes={OTHER_KEY: 93000})
    results = await send(sim.url, [SendItem(1, OTHER_KEY, BODY), SendItem(2, KEY, BODY)])
    outcomes = {r.key: (r.outcome, r.error_code) for r in results}
    assert outcomes == {1: (Outcome.failed, "93000"), 2: (Outcome.accepted, None)}


async def test_injected_server_error_is_retry(sim: Sim) -> None:
    sim.configure(error_500_rate=1.0)
    [result] = await send(sim.url, [SendItem(1, KEY, BODY)])
    assert (result.outcome, result.error_code) == (Outcome.retry, "http_500")
    assert [m["http_status"] for m in sim.messages(KEY)] == [500]


async def test_an_unanswered_post_is_unknown_not_retried(sim: Sim) -> None:
    sim.configure(timeout_rate=1.0, timeout_seconds=1.5)
    [result] = await send(sim.url, [SendItem(1, KEY, BODY)], timeout_seconds=0.5)
    assert (result.outcome, result.error_code) == (Outcome.unknown, "timeout")
    [posted] = sim.messages(KEY)  # the group did get it: resending would duplicate it
    assert (posted["fault"], posted["errcode"]) == ("timeout", 0)


async def test_nobody_listening_is_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [result] = await send(f"http://127.0.0.1:{port}", [SendItem(1, KEY, BODY)])
    assert (result.outcome, result.error_code) == (Outcome.retry, "connection")
