"""Shared by the Aliyun SMS tests (no tests here): the simulator's Aliyun account, a receiver
of its JSON pushes, and the channel pointed at the simulator."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broadcaster.sim import create_standalone_app
from broadcaster.sim.aliyun_sms_config import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET
from channels.base import Message
from channels.config import Deployment
from channels.hooks import HookRequest
from channels.sms_aliyun import SmsAliyun
from tests.integration.sim_support import ServerThread, base_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
PUBLIC = "https://bc.example.cn"
WAIT_SECONDS = 60.0
TOKEN = "push-token-0123456789"


def alert_message(headline: str = "暴雨橙色预警", token: str = "tok123") -> Message:
    return Message(
        "alert",
        "rain",
        "orange",
        {
            "sender": "某区防指",
            "level_name": "橙色",
            "hazard_name": "暴雨",
            "headline": headline,
            "token": token,
        },
    )


def pushed(body: Any, *, query: str = f"token={TOKEN}", client: str = "10.0.0.7") -> HookRequest:
    raw = json.dumps(body, ensure_ascii=False).encode()
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    return HookRequest(
        url=f"https://bc.example.cn/hooks/aliyun/sms_report?{query}",
        base="https://bc.example.cn/hooks/aliyun",
        query=params,
        headers={"content-type": "application/json"},
        form={},
        body=raw,
        client=client,
    )


@dataclass
class Pushes:
    """Records the JSON arrays pushed to /push/{name}; answers {"code":0} unless told to fail."""

    bodies: list[tuple[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def push(request: Request) -> Response:
            body = json.loads(await request.body())
            with self.lock:
                self.bodies.append((request.path_params["name"], body))
                if self.fail_first > 0:
                    self.fail_first -= 1
                    return JSONResponse({"code": 1, "msg": "busy"})
            return JSONResponse({"code": 0, "msg": "成功"})

        return Starlette(routes=[Route("/push/{name}", push, methods=["POST"])])

    def wait(self, name: str, items: int) -> list[Any]:
        """The arrays pushed to `name` once they hold `items` entries (generous deadline)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with self.lock:
                found = [body for n, body in self.bodies if n == name]
            if sum(len(b) for b in found) >= items or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


@dataclass
class AliyunEnv:
    sim_url: str
    push_url: str
    pushes: Pushes
    control: httpx.Client

    def configure(self, **knobs: Any) -> dict[str, Any]:
        answer = self.control.post("/api/aliyun/sms/config", json=knobs)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    def faults(self, **knobs: Any) -> None:
        self.control.post("/api/aliyun/faults", json=knobs).raise_for_status()

    def restore(self) -> None:
        defaults = base_config().aliyun_sms.model_dump(mode="json")
        defaults.update(
            public_base=PUBLIC,
            report_url=f"{self.push_url}/push/report",
            up_url=f"{self.push_url}/push/up",
        )
        self.configure(**defaults)
        self.control.post("/api/aliyun/sms/reset").raise_for_status()
        with self.pushes.lock:
            self.pushes.bodies.clear()
            self.pushes.fail_first = 0

    def sms(self, **query: str) -> dict[str, Any]:
        data: dict[str, Any] = self.control.get("/api/aliyun/sms", params=query).json()
        return data

    def channel(self, **options: Any) -> SmsAliyun:
        settings = {
            "access_key_id": DEFAULT_KEY_ID,
            "access_key_secret": DEFAULT_KEY_SECRET,
            "endpoint": f"{self.sim_url}/dysmsapi",
            "push_token": TOKEN,
            **options,
        }
        deployment = Deployment(timeout_seconds=5, config_dir=CONFIG_DIR, public_base=PUBLIC)
        configured = SmsAliyun.configure(settings, deployment)
        assert isinstance(configured, SmsAliyun.settings_model)
        return SmsAliyun(configured)


@contextmanager
def aliyun_env() -> Iterator[AliyunEnv]:
    pushes = Pushes()
    with (
        ServerThread(pushes.app()) as receiver,
        ServerThread(create_standalone_app(base_config())) as sim,
    ):
        sim_url = f"http://127.0.0.1:{sim.port}/sim"
        with httpx.Client(base_url=sim_url, timeout=WAIT_SECONDS) as control:
            env = AliyunEnv(sim_url, f"http://127.0.0.1:{receiver.port}", pushes, control)
            env.restore()
            yield env
