"""Shared by the Tencent SMS tests (no tests here): the simulator playing Tencent, a receiver
of its JSON pushes, and the channel pointed at it."""

from __future__ import annotations

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

from broadcaster.sim import SimConfig, create_standalone_app
from channels.base import Message, SendItem
from channels.hooks import HookRequest
from channels.sms_tencent import SmsTencent, SmsTencentSettings
from tests.integration.sim_support import WAIT_SECONDS, ServerThread

SECRET_ID = "AKIDsimTencent0123456789"
SECRET_KEY = "sim-tencent-secret-key-0123456789"
APP_ID = "1400000001"
HOOK_TOKEN = "tencent-hook-token-0123456789"
CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
PUBLIC = "https://warn.example.cn"


def tencent_sim(**overrides: Any) -> dict[str, Any]:
    """The simulator's Tencent account as the tests use it."""
    account = {"secrets": {SECRET_ID: SECRET_KEY}, "apps": [APP_ID], "public_base": PUBLIC}
    return {**account, **overrides}


@dataclass
class Pushes:
    """JSON pushes received at /push/{kind}."""

    seen: list[tuple[str, bytes, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def push(request: Request) -> Response:
            with self.lock:
                client = request.client.host if request.client else None
                self.seen.append((request.path_params["kind"], await request.body(), client))
            return JSONResponse({"result": 0, "errmsg": "OK"})

        return Starlette(routes=[Route("/push/{kind}", push, methods=["POST"])])

    def requests(self, kind: str) -> list[HookRequest]:
        """Each push of a kind as the service's webhook would see it (token in the query)."""
        with self.lock:
            found = [(body, client) for name, body, client in self.seen if name == kind]
        return [
            HookRequest(
                url=f"https://svc.example/hooks/tencent/sms/{kind}?token={HOOK_TOKEN}",
                base="https://svc.example/hooks/tencent",
                query={"token": HOOK_TOKEN},
                headers={"content-type": "application/json"},
                form={},
                body=body,
                client=client,
            )
            for body, client in found
        ]

    def wait(self, kind: str, count: int) -> list[HookRequest]:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(found := self.requests(kind)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found


@dataclass
class TencentEnv:
    sim_url: str
    pushes: Pushes
    push_url: str
    control: httpx.Client

    def configure(self, **knobs: Any) -> dict[str, Any]:
        response = self.control.post("/api/tencent/config", json=knobs)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def restore(self) -> None:
        defaults = SimConfig(tencent=tencent_sim()).tencent.model_dump(mode="json")
        status, reply = f"{self.push_url}/push/status", f"{self.push_url}/push/reply"
        self.configure(**{**defaults, "status_url": status, "reply_url": reply})
        self.control.post("/api/tencent/reset").raise_for_status()
        with self.pushes.lock:
            self.pushes.seen.clear()

    def received(self) -> list[dict[str, Any]]:
        response = self.control.get("/api/tencent/sms")
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["sms"]
        return found

    def channel(self, **settings: Any) -> SmsTencent:
        values: dict[str, Any] = {
            "secret_id": SECRET_ID,
            "secret_key": SECRET_KEY,
            "sdk_app_id": APP_ID,
            "endpoint": f"{self.sim_url}/tencent",
            "timeout_seconds": 5,
            "concurrency": 8,
            "hook_token": HOOK_TOKEN,
            "config_dir": CONFIG_DIR,
            "public_base": PUBLIC,
            **settings,
        }
        return SmsTencent(SmsTencentSettings.model_validate(values))


def alert_item(key: int, phone: str, token: str = "tok", headline: str = "暴雨将至") -> SendItem:
    """An alert SMS as the core builds it: the body is ours, the message is what it says."""
    values = {
        "sender": "某区防指",
        "level_name": "红色",
        "hazard_name": "暴雨",
        "headline": headline,
        "token": token,
    }
    message = Message("alert", "rain", "red", values)
    return SendItem(key=key, address=phone, body="(our text)", message=message)


def notice_item(key: int, phone: str) -> SendItem:
    """An all-clear: no personal part, so many numbers share one request."""
    values = {"sender": "某区防指", "hazard_name": "暴雨", "headline": "降雨已停"}
    return SendItem(key, phone, "(our text)", message=Message("all_clear", "rain", "red", values))


@contextmanager
def tencent_env() -> Iterator[TencentEnv]:
    pushes = Pushes()
    config = SimConfig(tencent=tencent_sim(), seed=11)
    with ServerThread(pushes.app()) as hooks, ServerThread(create_standalone_app(config)) as sim:
        sim_url = f"http://127.0.0.1:{sim.port}/sim"
        with httpx.Client(base_url=sim_url, timeout=WAIT_SECONDS) as control:
            env = TencentEnv(sim_url, pushes, f"http://127.0.0.1:{hooks.port}", control)
            env.restore()
            yield env
