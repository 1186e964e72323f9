"""SMS through Aliyun (Dysmsapi 2017-05-25) with the official SDK: approved templates only,
one SendSms per number, QuerySendDetails for messages of unknown fate, pushed receipts and
replies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions
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
from channels.sms_aliyun_batch import send_batches
from channels.sms_aliyun_hooks import MOBILE, sms_report, sms_up
from channels.sms_aliyun_lookup import look_up
from channels.sms_aliyun_outcomes import business, failure
from channels.templated import Filled, book_path, load_book

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
SIMULATOR_PATH = "/dysmsapi"  # where the provider simulator plays this host


class SmsAliyunSettings(BaseModel):
    access_key_id: str
    access_key_secret: SecretStr
    sign_name: str | None = Field(default=None, description="Overrides the template book's.")
    endpoint: str = DEFAULT_ENDPOINT
    protocol: Literal["HTTPS", "HTTP"] = "HTTPS"
    region_id: str = "cn-hangzhou"
    rate_per_second: float | None = Field(
        default=100, gt=0, description="SendSms calls per second (Aliyun allows 5,000 QPS)."
    )
    per_minute: int | None = Field(default=1, ge=1, description="Texts per number a minute.")
    per_hour: int | None = Field(default=5, ge=1, description="Texts per number an hour.")
    timeout_seconds: float = Field(default=10.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    concurrency: int = Field(default=100, ge=1)
    batch: bool = Field(
        default=False,
        description="SendBatchSms (up to batch_size numbers a call) instead of one SendSms "
        "per number; receipts then come by look-up only.",
    )
    batch_size: int = Field(default=100, ge=1, le=100)
    lookup_concurrency: int = Field(default=10, ge=1)
    push_token: SecretStr | None = Field(
        default=None, description="The secret ?token= of the push URLs set in Aliyun's console."
    )
    push_allow: list[str] = Field(
        default_factory=list, description="Addresses or networks pushes may come from."
    )
    config_dir: Path | None = None
    public_base: str = ""


def split_endpoint(endpoint: str) -> tuple[str, Literal["HTTPS", "HTTP"] | None]:
    """(host[:port][/path], protocol) of an endpoint written with or without its scheme."""
    scheme, found, rest = endpoint.partition("://")
    if not found:
        return endpoint.rstrip("/"), None
    return rest.rstrip("/"), "HTTP" if scheme.lower() == "http" else "HTTPS"


class SmsAliyun(Channel[SmsAliyunSettings]):
    """One templated SMS per person through Aliyun; replies and links carry the confirmation.

    Settings from `channel_options.aliyun` (shared by Aliyun products: access key, push
    token), then `channel_options.sms_aliyun`."""

    name = "sms_aliyun"
    medium = "sms"
    provider = "aliyun"
    label = "阿里云短信"
    settings_model = SmsAliyunSettings
    settings_sections: ClassVar[tuple[str, ...]] = ("aliyun",)
    capabilities = Capabilities(
        audience=Audience.person,
        confirmations=frozenset({"sms_reply", "link"}),
        max_body_chars=670,
        reach=Reach.mobile,
        form=TextForm.short_text,
    )
    hooks: ClassVar[dict[str, Hook]] = {
        "sms_report": Hook(sms_report),
        "sms_up": Hook(sms_up),
    }

    def __init__(self, settings: SmsAliyunSettings) -> None:
        super().__init__(settings)
        self.client: Any = None
        self.slots = asyncio.Semaphore(1)

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """Timeouts and concurrency from the deployment unless set; drills go to the
        simulator; the template book from the deployment's config directory."""
        o = dict(options)
        o["timeout_seconds"] = o.get("timeout_seconds") or deployment.timeout_seconds
        o.setdefault("concurrency", deployment.concurrency)
        for name in ("rate_per_second", "per_minute", "per_hour"):  # 0: no limit
            if name in o and str(o[name]).strip() in ("", "0", "0.0", "None"):
                o[name] = None
        if deployment.drill:
            o["endpoint"] = deployment.simulator().rstrip("/") + SIMULATOR_PATH
        endpoint, protocol = split_endpoint(str(o.get("endpoint") or DEFAULT_ENDPOINT))
        o["endpoint"] = endpoint
        if protocol:
            o["protocol"] = protocol
        o["config_dir"] = deployment.config_dir
        o["public_base"] = deployment.public_base
        return cls.settings_model.model_validate(o)

    def verify(self, request: HookRequest) -> bool:
        token = self.settings.push_token
        secret = token.get_secret_value() if token is not None else None
        return push_allowed(request, secret, self.settings.push_allow)

    def limits(self) -> Limits:
        """The account's call rate, and the carriers' per-number limits under one signature."""
        s = self.settings
        return Limits(
            rate_per_second=s.rate_per_second,
            credential=f"aliyun-dysms:{s.access_key_id}",  # SMS calls: voice counts apart
            per_minute=s.per_minute,
            per_hour=s.per_hour,
            why="阿里云短信每号码限发 / Aliyun's per-number SMS limit",
        )

    async def open(self) -> None:
        s = self.settings
        config = Config(
            access_key_id=s.access_key_id,
            access_key_secret=s.access_key_secret.get_secret_value(),
            endpoint=s.endpoint,
            protocol=s.protocol,
            region_id=s.region_id,
            read_timeout=int(s.timeout_seconds * 1000),
            connect_timeout=int(s.connect_timeout_seconds * 1000),
        )
        self.client = Client(config)
        self.slots = asyncio.Semaphore(s.concurrency)

    async def close(self) -> None:
        self.client = None

    def fill(self, item: SendItem) -> Filled:
        """The approved template, its parameters and text for the item (TemplateRefused)."""
        if item.message is None:
            raise ChannelError(
                "阿里云短信只发已审核模板，此消息无模板内容 / Aliyun SMS carries approved "
                "templates only, and this item says nothing a template can carry",
                code="no_message",
            )
        if self.settings.config_dir is None:
            raise ChannelError("未配置模板目录 / no template directory", code="templates")
        path = book_path(self.settings.config_dir, self.book_name or self.name)
        return load_book(path, self.settings.public_base).fill(item.message)

    def sign_name(self) -> str:
        if self.settings.config_dir is None:
            return self.settings.sign_name or ""
        book = load_book(
            book_path(self.settings.config_dir, self.book_name or self.name),
            self.settings.public_base,
        )
        return self.settings.sign_name or book.sign_name

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        return [result async for result in self.send_stream(items)]

    async def send_stream(
        self, items: Sequence[SendItem], gate: SendGate | None = None
    ) -> AsyncIterator[SendResult]:
        """One SendSms per item, `concurrency` at a time; each answer yielded as it comes."""
        if self.client is None:
            await self.open()
        if self.settings.batch:
            async for result in send_batches(self, items, gate):
                yield result
            return
        done: asyncio.Queue[SendResult] = asyncio.Queue()

        async def one(item: SendItem) -> None:
            try:
                result = await self._gated(item, gate)
            except Exception as exc:  # a bug, not the provider: the fate is unknown all the same
                result = SendResult(
                    item.key, Outcome.unknown, error_code="error", message=type(exc).__name__
                )
            done.put_nowait(result)

        tasks = [asyncio.ensure_future(one(item)) for item in items]
        try:
            for _ in tasks:
                yield await done.get()
        finally:
            for task in tasks:
                task.cancel()

    async def _gated(self, item: SendItem, gate: SendGate | None) -> SendResult:
        """What no template carries fails at once; the rest waits for a slot, and the gate is
        asked right before the request goes."""
        prepared = self.prepare(item)
        if isinstance(prepared, SendResult):
            return prepared
        async with self.slots:
            wait = gate.allow() if gate is not None else 0.0
            return held(item, wait) if wait else await self._send(item, *prepared)

    def prepare(self, item: SendItem) -> tuple[str, Filled] | SendResult:
        """The item's national number and filled template, or why nothing can be sent."""
        try:
            filled = self.fill(item)
        except ChannelError as exc:
            return SendResult(
                item.key, Outcome.failed, error_code=exc.code or "template", message=exc.message
            )
        phone = MOBILE.match(item.address)
        if phone is None:
            return SendResult(
                item.key,
                Outcome.failed,
                error_code="not_mainland",
                message="阿里云短信只发中国大陆手机号 / Aliyun SMS reaches mainland mobiles only",
            )
        return phone.group(1), filled

    async def _send(self, item: SendItem, phone: str, filled: Filled) -> SendResult:
        """One SendSms of the filled template to the national number."""
        detail: dict[str, Any] = {"segments": filled.segments, "template": filled.code}
        request = models.SendSmsRequest(
            phone_numbers=phone,
            sign_name=self.sign_name(),
            template_code=filled.code,
            template_param=json.dumps(filled.params, ensure_ascii=False),
            out_id=str(item.key),
        )
        try:
            answer = await self.client.send_sms_with_options_async(request, RuntimeOptions())
        except Exception as exc:
            return failure(item, exc, detail)
        body = answer.body
        code = str(body.code or "")
        if code != "OK" or not body.biz_id:
            return business(item, code or "no_code", str(body.message or ""), detail)
        detail["request_id"] = body.request_id
        return SendResult(item.key, Outcome.accepted, provider_id=str(body.biz_id), detail=detail)

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        if self.client is None:
            await self.open()
        gate = asyncio.Semaphore(self.settings.lookup_concurrency)

        async def one(item: LookupItem) -> LookupResult:
            async with gate:
                return await look_up(self.client, item)

        return list(await asyncio.gather(*(one(item) for item in items)))
