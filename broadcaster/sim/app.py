"""Simulator ASGI apps: the provider routes alone (to mount) or under /sim (to serve)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from broadcaster.sim.aliyun_sms import AliyunSmsApi
from broadcaster.sim.aliyun_sms_control import AliyunSmsControl
from broadcaster.sim.aliyun_voice import AliyunVoiceApi
from broadcaster.sim.config import SimConfig
from broadcaster.sim.control import ControlApi
from broadcaster.sim.ipcast import IpcastApi
from broadcaster.sim.state import SimState
from broadcaster.sim.tencent_sms import TencentSmsApi
from broadcaster.sim.twilio_calls import CallsApi
from broadcaster.sim.twilio_messages import MessagesApi
from broadcaster.sim.wecom import WecomApi

MOUNT_PATH = "/sim"


def sim_state(app: Starlette) -> SimState:
    """The live state behind an app made by create_sim_app (for closing or inspection)."""
    state: SimState = app.state.sim
    return state


def create_sim_app(config: SimConfig) -> Starlette:
    """The simulator with routes relative to its mount point.

    Starlette does not run a mounted app's lifespan: background senders start on
    first use, and whoever mounts it should `await sim_state(app).aclose()` on shutdown.
    """
    state = SimState(config)
    ipcast = IpcastApi()
    aliyun_sms = AliyunSmsApi(state)

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "simulator": "twilio-messages"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await state.aclose()

    routes = [
        *MessagesApi(state).routes(),
        *CallsApi(state).routes(),
        *AliyunVoiceApi(state).routes(),
        *WecomApi(state).routes(),
        *TencentSmsApi(state).routes(),
        *ipcast.routes(),
        *aliyun_sms.routes(),
        *AliyunSmsControl(aliyun_sms).routes(),
        Route("/api/health", health, methods=["GET"]),
        Mount("/api", routes=ControlApi(state).routes()),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = state
    app.state.ipcast = ipcast
    app.state.aliyun_sms = aliyun_sms
    return app


def create_standalone_app(config: SimConfig) -> Starlette:
    """The simulator mounted at /sim, as `broadcaster sim` serves it."""
    sim = create_sim_app(config)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await sim_state(sim).aclose()

    app = Starlette(routes=[Mount(MOUNT_PATH, app=sim)], lifespan=lifespan)
    app.state.sim = sim_state(sim)
    app.state.aliyun_sms = sim.state.aliyun_sms
    return app


def run_sim(*, host: str, port: int, config: SimConfig, log_level: str = "warning") -> None:
    """Serve the simulator at http://host:port/sim until interrupted."""
    uvicorn.run(
        create_standalone_app(config),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
