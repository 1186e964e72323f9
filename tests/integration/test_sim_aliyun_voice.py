"""The simulator as Aliyun voice, driven by the official SDK and a push receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from alibabacloud_dyvmsapi20170525 import models
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broadcaster.sim import SimConfig, create_standalone_app
from channels import aliyun_voice_api as api
from channels.base import Outcome
from channels.voice_aliyun import SIM_PATH
from tests.integration.aliyun_voice_support import (
    ACCESS_KEY,
    SECRET,
    SHOW_NUMBER,
    SimVoice,
    account,
)
from tests.stack import ServerThread, reserve_port, wait_until

ALERT_PARAMS = json.dumps(
    {"sender": "区防指", "level": "红色", "hazard": "暴雨", "headline": "预警"}
)


@dataclass
class Receiver:
    """Records pushed JSON arrays by path; fails the first `fail_first` pushes with 500."""

    pushes: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            with self.lock:
                if self.fail_first > 0:
                    self.fail_first -= 1
                    return Response("busy", status_code=500)
                self.pushes.append((request.url.path, json.loads(await request.body())))
            return JSONResponse({"code": 0, "msg": "接收成功"})

        return Starlette(routes=[Route("/{kind}", hook, methods=["POST"])])

    def batches(self, path: str) -> list[list[dict[str, Any]]]:
        with self.lock:
            return [batch for where, batch in self.pushes if where == path]

    def entries(self, path: str) -> list[dict[str, Any]]:
        return [entry for batch in self.batches(path) for entry in batch]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, Receiver, str]]:
    receiver, sim_port, hook_port = Receiver(), reserve_port(), reserve_port()
    app = create_standalone_app(SimConfig.model_validate({"aliyun_voice": account()}))
    with ServerThread(app, sim_port), ServerThread(receiver.app(), hook_port):
        yield f"http://127.0.0.1:{sim_port}/sim", receiver, f"http://127.0.0.1:{hook_port}"


@pytest.fixture
def sim(servers: tuple[str, Receiver, str]) -> Iterator[SimVoice]:
    sim_url, receiver, hooks = servers
    with receiver.lock:
        receiver.pushes.clear()
        receiver.fail_first = 0
    with httpx.Client(base_url=sim_url, timeout=30) as control:
        control.post("/api/reset").raise_for_status()
        voice = SimVoice(control)
        voice.configure(**account(report_url=f"{hooks}/report", ivr_report_url=f"{hooks}/ivr"))
        yield voice


async def ivr(sim_url: str, called: str = "13900003333", **fields: Any) -> api.Answer:
    client = api.client(
        access_key_id=ACCESS_KEY,
        access_key_secret=SECRET,
        endpoint=f"{sim_url}/{SIM_PATH}",
        region_id="cn-hangzhou",
        timeout=10,
    )
    request = models.IvrCallRequest(
        called_number=called,
        called_show_number=SHOW_NUMBER,
        start_code="TTS_310000110",
        start_tts_params=ALERT_PARAMS,
        menu_key_map=[
            models.IvrCallRequestMenuKeyMap(key="1", code="TTS_310000116"),
            models.IvrCallRequestMenuKeyMap(key="9", code="TTS_310000110", tts_params=ALERT_PARAMS),
        ],
        play_times=2,
        out_id="77",
    )
    for name, value in fields.items():
        setattr(request, name, value)
    return await api.call(client.ivr_call_async(request))


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"called_number": "85291234567"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"called_show_number": "01000000000"}, "isv.DISPLAY_NUMBER_ILLEGAL"),
        ({"start_code": "TTS_000000001"}, "isv.TTS_TEMPLATE_ILLEGAL"),
        ({"start_tts_params": '{"sender": "区防指"}'}, "isv.TEMPLATE_MISSING_PARAMETERS"),
        ({"start_tts_params": '{"sender": 1}'}, "isv.INVALID_JSON_PARAM"),
        ({"play_times": 4}, "isv.INVALID_PARAMETERS"),
        ({"out_id": "1234567890123456"}, "isv.INVALID_PARAMETERS"),
    ],
)
async def test_requests_aliyun_would_refuse_are_refused_with_its_codes(
    servers: tuple[str, Receiver, str], sim: SimVoice, fields: dict[str, Any], code: str
) -> None:
    answer = await ivr(servers[0], **fields)
    assert (answer.outcome, answer.code) == (Outcome.failed, code)
    assert sim.calls() == []


async def test_the_account_rate_and_the_numbers_limits_are_flow_controlled(
    servers: tuple[str, Receiver, str], sim: SimVoice
) -> None:
    assert (await ivr(servers[0], "13900003331")).outcome is Outcome.accepted
    limited = await ivr(servers[0], "13900003331")
    assert (limited.outcome, limited.code) == (Outcome.retry, "isv.BUSINESS_LIMIT_CONTROL")
    sim.configure(**account(rate_per_second=0.001, per_number_per_minute=None))
    assert (await ivr(servers[0], "13900003332")).outcome is Outcome.accepted
    throttled = await ivr(servers[0], "13900003332")
    assert (throttled.outcome, throttled.code) == (Outcome.retry, "Throttling.User")


async def test_keys_are_pushed_together_then_the_call_report(
    servers: tuple[str, Receiver, str], sim: SimVoice
) -> None:
    _sim_url, receiver, _hooks = servers
    call_id = (await ivr(servers[0])).body["CallId"]
    answered = sim.act(call_id, "answer")
    assert answered["transcript"] == [answered["text"]]
    done = sim.act(call_id, "press", digits="991")
    assert done["status_code"] == "200000"
    assert done["transcript"][-1] == "已确认收到，谢谢。请注意安全，再见。"
    assert done["transcript"].count(done["text"]) == 3
    wait_until(lambda: len(receiver.entries("/report")) == 1)
    [keys] = receiver.batches("/ivr")  # the three keys in one push
    assert [(k["dtmf"], k["out_id"], k["status_code"]) for k in keys] == [
        ("9", "77", "300000"),
        ("9", "77", "300000"),
        ("1", "77", "300000"),
    ]
    [report] = receiver.entries("/report")
    assert (report["call_id"], report["out_id"], report["dtmf"]) == (call_id, "77", "991")
    assert report["status_code"] == "200000"


async def test_silence_replays_then_ends_without_a_key_and_failed_pushes_are_retried(
    servers: tuple[str, Receiver, str], sim: SimVoice
) -> None:
    _sim_url, receiver, _hooks = servers
    with receiver.lock:
        receiver.fail_first = 1
    call_id = (await ivr(servers[0])).body["CallId"]
    sim.act(call_id, "answer")
    again = sim.act(call_id, "press", digits="")
    assert (again["status"], len(again["transcript"])) == ("answered", 2)
    done = sim.act(call_id, "press", digits="")
    assert done["status_code"] == "200008"
    wait_until(lambda: len(receiver.entries("/report")) == 1)
    wait_until(lambda: bool(sim.calls()[0]["pushes"]))
    [push] = sim.calls()[0]["pushes"]
    assert (push["ok"], push["attempts"]) == (True, 2)


async def test_a_resident_who_stays_silent_hears_it_again_then_the_call_ends_without_a_key(
    servers: tuple[str, Receiver, str], sim: SimVoice
) -> None:
    _sim_url, receiver, hooks = servers
    sim.configure(
        **account(
            report_url=f"{hooks}/report",
            ivr_report_url=f"{hooks}/ivr",
            auto_answer=True,
            silence_after_ms=50,
        )
    )
    call_id = (await ivr(servers[0])).body["CallId"]
    wait_until(lambda: len(receiver.entries("/report")) == 1)
    [call] = sim.calls()
    assert (call["CallId"], call["status_code"], call["keys"]) == (call_id, "200008", [])
    assert call["transcript"] == [call["text"]] * 2  # played twice (PlayTimes 2), no key
    assert receiver.entries("/report")[0]["status_code"] == "200008"


async def test_an_unanswered_number_is_reported_with_its_carrier_code(
    servers: tuple[str, Receiver, str], sim: SimVoice
) -> None:
    _sim_url, receiver, _hooks = servers
    sim.configure(
        **account(
            report_url=f"{servers[2]}/report", number_fates={"13900003334": "off"}, auto_answer=True
        )
    )
    call_id = (await ivr(servers[0], "13900003334")).body["CallId"]
    wait_until(lambda: len(receiver.entries("/report")) == 1)
    [report] = receiver.entries("/report")
    assert (report["call_id"], report["status_code"], report["duration"]) == (
        call_id,
        "200010",
        "0",
    )
