"""SMS through Tencent Cloud SMS (API 2021-01-11) with the official SDK, approved templates only.

The SDK's client is synchronous (`requests` underneath; its newer httpx-based async client
would meet the client-side ceiling of httpx's AsyncClient measured in DESIGN §10): each
SendSms call runs in a thread pool sized by the deployment's concurrency, so the event loop
that streams the core's results never blocks on the network.

Items are grouped into SendSms requests of up to 200 numbers sharing one template, signature
and parameter set — Tencent takes one TemplateParamSet per request.
A message carrying a personal part (the confirmation token of an alert) has parameters of its
own, so it is a request of its own: alerts go one number a request, at the provider's request
rate (its QPS), not 200 times that; notices without a personal part (all-clear, cancel,
released) share requests. Receipts and replies come by HTTP push (see tencent_hooks)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr

from channels.base import (
    Audience,
    Capabilities,
    Channel,
    ChannelError,
    Limits,
    LookupItem,
    LookupResult,
    Outcome,
    Reach,
    SendGate,
    SendItem,
    SendResult,
    TextForm,
    held,
)
from channels.config import Deployment
from channels.hooks import Hook, HookRequest, push_allowed
from channels.templated import TemplateBook, TemplateRefused, book_path, load_book
from channels.tencent_hooks import reply_push, status_push
from channels.tencent_sdk import Account, Clients, Request, group, look_up, send

SIM_PATH = "/tencent"  # where the simulator serves the Tencent API, under its base URL


class SmsTencentSettings(BaseModel):
    secret_id: str
    secret_key: SecretStr
    sdk_app_id: str = Field(description="The SMS application (SmsSdkAppId).")
    sign_name: str | None = Field(
        default=None, description="The registered signature; unset: the template book's."
    )
    region: str = "ap-guangzhou"
    endpoint: str | None = Field(
        default=None, description="API host (default sms.tencentcloudapi.com) or http(s) URL."
    )
    rate_per_second: float | None = Field(default=None, gt=0, description="Messages a second.")
    per_minute: int | None = Field(default=None, ge=1, description="Messages a number a minute.")
    per_hour: int | None = Field(default=None, ge=1, description="Messages a number an hour.")
    per_day: int | None = Field(default=None, ge=1, description="Messages a number a day.")
    timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=20, ge=1)
    lookup_settle_seconds: float = Field(
        default=900, ge=0, description="After this long without a report, a lookup says 'never'."
    )
    hook_token: SecretStr | None = Field(
        default=None, description="Secret in the callback URLs (?token=); unset: pushes refused."
    )
    hook_sources: list[str] = Field(
        default_factory=list, description="Addresses or networks pushes may come from."
    )
    config_dir: Path | None = None
    public_base: str = ""


class SmsTencent(Channel[SmsTencentSettings]):
    """One SMS per person from an approved template; replies and links carry the confirmation."""

    name = "sms_tencent"
    medium = "sms"
    provider = "tencent"
    label = "腾讯云短信"
    settings_model = SmsTencentSettings
    settings_sections: ClassVar[tuple[str, ...]] = ("tencent",)
    capabilities = Capabilities(
        audience=Audience.person,
        confirmations=frozenset({"sms_reply", "link"}),
        max_body_chars=670,
        reach=Reach.mobile,
        form=TextForm.short_text,
    )
    hooks: ClassVar[dict[str, Hook]] = {
        "sms/status": Hook(status_push),
        "sms/reply": Hook(reply_push),
    }

    def __init__(self, settings: SmsTencentSettings) -> None:
        super().__init__(settings)
        self._pool: ThreadPoolExecutor | None = None
        self._clients: Clients | None = None
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """Timeouts and concurrency from the deployment unless set; the template book where
        the deployment keeps it; drills to the simulator's Tencent API."""
        o = dict(options)
        o["timeout_seconds"] = o.get("timeout_seconds") or deployment.timeout_seconds
        o["concurrency"] = o.get("concurrency") or deployment.concurrency
        o["rate_per_second"] = float(o.get("rate_per_second") or 0) or None  # 0: no limit
        sources = o.get("hook_sources")
        if isinstance(sources, str):  # from the environment: a JSON list or "a,b"
            text = sources.strip()
            o["hook_sources"] = (
                json.loads(text)
                if text.startswith("[")
                else [part.strip() for part in text.split(",") if part.strip()]
            )
        if deployment.drill:
            o["endpoint"] = deployment.simulator().rstrip("/") + SIM_PATH
        o.setdefault("config_dir", deployment.config_dir)
        o.setdefault("public_base", deployment.public_base)
        return cls.settings_model.model_validate(o)

    def limits(self) -> Limits:
        s = self.settings
        return Limits(
            rate_per_second=s.rate_per_second,
            credential=f"tencent:{s.sdk_app_id}",
            per_minute=s.per_minute,
            per_hour=s.per_hour,
            per_day=s.per_day,
            why="腾讯云短信单号码频率限制 / Tencent SMS per-number limit",
        )

    def verify(self, request: HookRequest) -> bool:
        """Pushes name the secret token (`?token=`) and come from an allowed address."""
        token = self.settings.hook_token
        secret = token.get_secret_value() if token is not None else None
        return push_allowed(request, secret, self.settings.hook_sources)

    def book(self) -> TemplateBook:
        if self.settings.config_dir is None:
            raise ChannelError("未配置模板目录 / no template directory", code="templates")
        return load_book(
            book_path(self.settings.config_dir, self.book_name or self.name),
            self.settings.public_base,
        )

    async def open(self) -> None:
        s = self.settings
        if self._pool is None:
            self._pool = ThreadPoolExecutor(s.concurrency, thread_name_prefix="tencent-sms")
        account = Account(
            s.secret_id,
            s.secret_key.get_secret_value(),
            s.sdk_app_id,
            s.region,
            s.endpoint,
            s.timeout_seconds,
        )
        self._clients = Clients(account)
        self._slots = asyncio.Semaphore(s.concurrency)  # one per thread of the pool

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._clients = None

    def _requests(self, items: Sequence[SendItem]) -> tuple[list[Request], list[SendResult]]:
        """The requests that carry the items, and the results of items no template can carry."""
        try:
            book = self.book()
        except ChannelError as exc:  # no book, or a broken one: nothing can be sent
            return [], [
                SendResult(i.key, Outcome.failed, error_code=exc.code, message=exc.message)
                for i in items
            ]
        sign = self.settings.sign_name or book.sign_name
        filled, refused = [], []
        for item in items:
            try:
                if item.message is None:
                    raise TemplateRefused(self.name, "?", "没有消息内容 / no message to fill")
                done = book.fill(item.message)
            except TemplateRefused as exc:
                refused.append(
                    SendResult(item.key, Outcome.failed, error_code=exc.code, message=exc.message)
                )
                continue
            filled.append((item, done.code, sign, tuple(done.params.values())))
        return group(filled), refused

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        return [result async for result in self.send_stream(items)]

    async def send_stream(
        self, items: Sequence[SendItem], gate: SendGate | None = None
    ) -> AsyncIterator[SendResult]:
        """Each request in the pool as a slot frees and the gate lets it go (asked right
        before it goes); its results yielded the moment it answers."""
        if self._clients is None:
            await self.open()
        clients, slots = self._clients, self._slots
        assert clients is not None
        assert slots is not None
        requests, refused = self._requests(items)
        for result in refused:
            yield result
        loop = asyncio.get_running_loop()
        done: asyncio.Queue[list[SendResult]] = asyncio.Queue()

        async def one(request: Request) -> None:
            async with slots:
                wait = gate.allow() if gate is not None else 0.0
                try:
                    results = (
                        [held(item, wait) for item in request.items]
                        if wait
                        else await loop.run_in_executor(self._pool, send, clients, request)
                    )
                except Exception as exc:  # a bug, not the provider: the fate is unknown
                    results = [
                        SendResult(i.key, Outcome.unknown, error_code="error", message=repr(exc))
                        for i in request.items
                    ]
            done.put_nowait(results)

        tasks = [asyncio.ensure_future(one(request)) for request in requests]
        try:
            for _ in tasks:
                for result in await done.get():
                    yield result
        finally:
            for task in tasks:
                task.cancel()

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        if self._clients is None:
            await self.open()
        assert self._clients is not None
        loop = asyncio.get_running_loop()
        settle = dt.timedelta(seconds=self.settings.lookup_settle_seconds)
        ask = partial(look_up, self._clients, settle=settle)
        return list(
            await asyncio.gather(*(loop.run_in_executor(self._pool, ask, i) for i in items))
        )
