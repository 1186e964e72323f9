"""Shared by the simulator tests (no tests here): servers in threads and a webhook receiver."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broadcaster.sim import NumberConfig, SimConfig, create_standalone_app
from channels.twilio_http import AsyncTwilio, make_async_client

ACCOUNT = "AC" + "a1" * 16
TOKEN = "sim-auth-token-0123456789abcdef"
OUR_NUMBER = "+8613800000000"
WAIT_SECONDS = 60.0
TWIML_REPLY = "<?xml version='1.0'?><Response><Message>收到，谢谢</Message></Response>"


class ServerThread:
    """Runs an ASGI app under uvicorn on a free loopback port in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_SECONDS)
        self.sock.close()


@dataclass
class Hit:
    """One webhook request as the receiver saw it."""

    name: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]


@dataclass
class Receiver:
    """Records webhooks at /hooks/{name}; can fail the first N calls of a name with 500."""

    hits: list[Hit] = field(default_factory=list)
    fail_first: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            name = request.path_params["name"]
            params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            with self.lock:
                self.hits.append(Hit(name, str(request.url), dict(request.headers), params))
                if self.fail_first.get(name, 0) > 0:
                    self.fail_first[name] -= 1
                    return Response("boom", status_code=500)
            if name == "sms":
                return Response(TWIML_REPLY, media_type="text/xml")
            return Response("", status_code=200)

        return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])

    def matching(self, predicate: Callable[[Hit], bool]) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if predicate(hit)]

    def wait_for(
        self, predicate: Callable[[Hit], bool], count: int = 1, timeout: float = WAIT_SECONDS
    ) -> list[Hit]:
        """Hits matching predicate once there are at least `count` (generous deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(predicate)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


def base_config(**overrides: Any) -> SimConfig:
    return SimConfig(
        accounts={ACCOUNT: TOKEN},
        numbers={OUR_NUMBER: NumberConfig()},
        seed=7,
        **overrides,
    )


@dataclass
class SimEnv:
    """A running simulator, a running receiver, and clients for both."""

    sim_url: str
    receiver: Receiver
    receiver_url: str
    control: httpx.Client

    def hook(self, name: str, query: str = "") -> str:
        return f"{self.receiver_url}/hooks/{name}" + (f"?{query}" if query else "")

    def configure(self, **knobs: Any) -> dict[str, Any]:
        response = self.control.post("/api/config", json=knobs)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def restore(self) -> None:
        """Back to the base configuration with nothing recorded."""
        defaults = base_config().model_dump(mode="json")
        defaults["numbers"] = {OUR_NUMBER: {"sms_url": self.hook("sms"), "account_sid": None}}
        self.configure(**defaults)
        self.control.post("/api/reset").raise_for_status()
        with self.receiver.lock:
            self.receiver.hits.clear()
            self.receiver.fail_first.clear()

    def twilio(self, *, timeout: float = 30.0, token: str = TOKEN) -> AsyncTwilio:
        return make_async_client(
            account_sid=ACCOUNT, auth_token=token, api_base_url=self.sim_url, timeout=timeout
        )

    def message(self, sid: str) -> dict[str, Any]:
        response = self.control.get(f"/api/messages/{sid}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def wait_status(self, sid: str, status: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data = self.message(sid)
            if data["status"] == status or time.monotonic() > deadline:
                return data
            time.sleep(0.02)


@contextmanager
def running_env() -> Iterator[SimEnv]:
    """Simulator and receiver on free loopback ports, stopped afterwards."""
    receiver = Receiver()
    with (
        ServerThread(receiver.app()) as hooks,
        ServerThread(create_standalone_app(base_config())) as sim,
    ):
        sim_url = f"http://127.0.0.1:{sim.port}/sim"
        with httpx.Client(base_url=sim_url, timeout=WAIT_SECONDS) as control:
            env = SimEnv(sim_url, receiver, f"http://127.0.0.1:{hooks.port}", control)
            env.restore()
            yield env
