"""The simulator's SmsReport and SmsUp pushes (JSON arrays, pushed again until answered
{"code":0}), parsed by the Aliyun SMS channel, and the token that guards them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from channels.base import Outcome, ProviderState, SendItem
from channels.hooks import HookRejected
from channels.sms_aliyun_hooks import sms_report, sms_up
from tests.integration.aliyun_support import AliyunEnv, alert_message, aliyun_env, pushed
from tests.stack import wait_until

PHONES = [f"+861391234{n:04d}" for n in range(5)]


@pytest.fixture(scope="module")
def env_running() -> Iterator[AliyunEnv]:
    with aliyun_env() as env:
        yield env


@pytest.fixture
def env(env_running: AliyunEnv) -> AliyunEnv:
    env_running.restore()
    return env_running


async def test_receipts_are_pushed_in_batches_and_become_receipts(env: AliyunEnv) -> None:
    env.configure(report_delay_ms=300, number_fates={"13912340004": "MN:0001"})
    channel = env.channel()
    items = [SendItem(200 + n, p, "", message=alert_message()) for n, p in enumerate(PHONES)]
    results = {r.key: r for r in await channel.send_batch(items)}
    await channel.close()
    assert all(r.outcome is Outcome.accepted for r in results.values())
    arrays = env.pushes.wait("report", len(PHONES))
    assert len(arrays) == 1
    assert len(arrays[0]) == len(PHONES)
    entry = arrays[0][0]
    assert set(entry) == {
        "phone_number", "send_time", "report_time", "success", "err_code", "err_msg",
        "sms_size", "biz_id", "out_id",
    }  # fmt: skip
    answer = sms_report(pushed(arrays[0]))
    assert json.loads(answer.body) == {"code": 0, "msg": "成功"}
    receipts = {r.delivery_id: r for r in answer.receipts}
    assert set(receipts) == set(results)
    for key, receipt in receipts.items():
        assert receipt.provider_id == results[key].provider_id
    assert receipts[204].state is ProviderState.failed
    assert receipts[204].error_code == "MN:0001"
    assert {receipts[k].state for k in range(200, 204)} == {ProviderState.delivered}


async def test_a_push_not_answered_code_0_is_pushed_again(env: AliyunEnv) -> None:
    env.pushes.fail_first = 1
    channel = env.channel()
    await channel.send_batch([SendItem(1, PHONES[0], "", message=alert_message())])
    await channel.close()
    arrays = env.pushes.wait("report", 2)
    assert len(arrays) == 2
    assert arrays[0] == arrays[1]

    def records() -> list[dict[str, object]]:
        answer = env.control.get("/api/aliyun/pushes", params={"kind": "SmsReport"})
        return list(answer.json()["pushes"])

    # the simulator records a push once it has read the answer to its last attempt
    wait_until(lambda: bool(records()), timeout=30)
    [record] = records()
    assert (record["attempts"], record["ok"]) == (2, True)


async def test_a_residents_reply_is_pushed_as_sms_up(env: AliyunEnv) -> None:
    answer = env.control.post(
        "/api/aliyun/sms/up", json={"phone_number": PHONES[1], "content": "2"}
    )
    assert answer.status_code == 200, answer.text
    [array] = env.pushes.wait("up", 1)
    [entry] = array
    assert entry["phone_number"] == "13912340001"
    assert (entry["content"], entry["sign_name"]) == ("2", "防汛抗旱指挥部")
    assert {"send_time", "dest_code", "sequence_id"} <= set(entry)
    [reply] = sms_up(pushed(array)).replies
    assert (reply.sender, reply.body) == (PHONES[1], "2")
    assert reply.provider_id == f"aliyun-up:{entry['sequence_id']}"


def test_pushes_need_the_token_and_an_allowed_source(env: AliyunEnv) -> None:
    channel = env.channel()
    fenced = env.channel(push_allow=["100.104.0.0/16", "10.0.0.7"])
    assert channel.verify(pushed([]))
    assert not channel.verify(pushed([], query="token=guess"))
    assert not channel.verify(pushed([], query=""))
    assert not env.channel(push_token=None).verify(pushed([]))
    assert fenced.verify(pushed([], client="10.0.0.7"))
    assert fenced.verify(pushed([], client="100.104.3.9"))
    assert not fenced.verify(pushed([], client="203.0.113.5"))


def test_malformed_pushes_are_rejected_and_stray_entries_skipped() -> None:
    with pytest.raises(HookRejected):
        sms_report(pushed("not an array"))
    good = {"phone_number": "13912340001", "content": "1", "sequence_id": 9}
    [reply] = sms_up(pushed([{"content": "1"}, good])).replies  # the good one is kept
    assert (reply.sender, reply.body) == ("+8613912340001", "1")
    stranger = {"out_id": "", "biz_id": "1^0", "success": True}
    assert sms_report(pushed([stranger])).receipts == []
