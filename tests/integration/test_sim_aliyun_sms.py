"""The simulator playing Aliyun SMS, driven by the official SDK: its day limit, SendBatchSms
refusals, unknown actions, and its control routes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from broadcaster.sim.aliyun_sms_config import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
from tests.integration.aliyun_support import AliyunEnv, aliyun_env

SIGN, CODE = "防汛抗旱指挥部", "SMS_480000116"  # ack_safe: one variable, sender


@pytest.fixture(scope="module")
def env_running() -> Iterator[AliyunEnv]:
    with aliyun_env() as env:
        yield env


@pytest.fixture
def env(env_running: AliyunEnv) -> AliyunEnv:
    env_running.restore()
    return env_running


def client(env: AliyunEnv) -> Client:
    endpoint = env.sim_url.removeprefix("http://") + "/dysmsapi"
    config = Config(
        access_key_id=DEFAULT_KEY_ID,
        access_key_secret=DEFAULT_KEY_SECRET,
        endpoint=endpoint,
        protocol="HTTP",
    )
    return Client(config)


async def send_sms(env: AliyunEnv, phone: str = "13912345678") -> str:
    request = models.SendSmsRequest(
        phone_numbers=phone,
        sign_name=SIGN,
        template_code=CODE,
        template_param=json.dumps({"sender": "区防指"}, ensure_ascii=False),
    )
    answer = await client(env).send_sms_with_options_async(request, RuntimeOptions())
    return str(answer.body.code)


async def test_the_day_limit_per_number_and_signature(env: AliyunEnv) -> None:
    env.configure(per_minute=100, per_hour=100, per_day=2)
    codes = [await send_sms(env) for _ in range(3)]
    assert codes == ["OK", "OK", "isv.BUSINESS_LIMIT_CONTROL"]
    assert await send_sms(env, "13912345679") == "OK"  # another number has its own count
    assert [r["Code"] for r in env.sms()["refused"]] == ["isv.BUSINESS_LIMIT_CONTROL"]


async def test_send_batch_sms_over_100_numbers_or_mismatched_is_refused(env: AliyunEnv) -> None:
    phones = [f"139{n:08d}" for n in range(101)]

    async def batch(numbers: list[str], signs: int) -> str:
        request = models.SendBatchSmsRequest(
            phone_number_json=json.dumps(numbers),
            sign_name_json=json.dumps([SIGN] * signs, ensure_ascii=False),
            template_code=CODE,
            template_param_json=json.dumps([{"sender": "区防指"}] * len(numbers)),
        )
        answer = await client(env).send_batch_sms_with_options_async(request, RuntimeOptions())
        return str(answer.body.code)

    assert await batch(phones, 101) == "isv.MOBILE_COUNT_OVER_LIMIT"
    assert await batch(phones[:3], 2) == "isv.INVALID_PARAMETERS"
    assert await batch(phones[:3], 3) == "OK"
    assert len(env.sms()["sms"]) == 3


async def test_an_action_it_does_not_play_is_not_found(env: AliyunEnv) -> None:
    request = models.QuerySmsSignListRequest(page_index=1, page_size=10)
    with pytest.raises(ClientException) as caught:
        await client(env).query_sms_sign_list_with_options_async(request, RuntimeOptions())
    assert (caught.value.status_code, caught.value.code) == (404, "InvalidAction.NotFound")


def test_control_routes(env: AliyunEnv) -> None:
    env.configure(up_url=None)
    answer = env.control.post("/api/aliyun/sms/up", json={"phone_number": "13912345678"})
    assert answer.status_code == 400
    answer = env.control.post(
        "/api/aliyun/sms/up", json={"phone_number": "13912345678", "content": "1"}
    )
    assert answer.status_code == 409  # no SmsUp URL configured
    assert env.control.post("/api/aliyun/faults", json={"sign_names": []}).status_code == 422
    assert env.control.post("/api/aliyun/faults", json={"down": "maybe"}).status_code == 422
    assert env.control.post("/api/aliyun/faults", json={"latency_ms": 5}).status_code == 200
    assert env.control.get("/api/aliyun/sms/config").json()["latency_ms"] == 5
