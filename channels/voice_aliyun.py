"""Voice calls in mainland China through Aliyun: IVR warnings (keys 1, 2, 9), TTS notices."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from alibabacloud_dyvmsapi20170525 import models
from alibabacloud_dyvmsapi20170525.client import Client
from pydantic import BaseModel, Field, SecretStr

from channels import aliyun_voice_api as api
from channels.aliyun_voice_hooks import (
    IVR_REPORT,
    VOICE_REPORT,
    call_state,
    ivr_report,
    voice_report,
)
from channels.base import (
    Audience,
    Capabilities,
    Channel,
    ChannelError,
    Limits,
    LookupItem,
    LookupResult,
    Message,
    Outcome,
    ProviderState,
    Reach,
    SendGate,
    SendItem,
    SendResult,
    TextForm,
    held,
)
from channels.config import Deployment
from channels.hooks import Hook, HookRequest, push_allowed
from channels.templated import Filled, book_path, load_book

SIM_PATH = "dyvmsapi"  # where the simulator plays Aliyun voice, under its base URL
IVR_KINDS = frozenset({"alert", "update", "evacuate"})  # asked to press a key
MENU = (("1", "ack_safe"), ("2", "ack_help"))  # key → the template it plays; 9 replays
REPLAY_KEY = "9"
# Aliyun's product ids, for QueryCallDetailByCallId: IVR calls and TTS notification calls.
PRODUCTS = (11000000300005, 11010000138001)
NO_KEY = "未配置阿里云 AccessKey / no Aliyun access key configured"
NOT_MAINLAND = "被叫号码不是中国大陆号码 / Aliyun voice calls mainland China numbers only"


class VoiceAliyunSettings(BaseModel):
    """The `[aliyun]` account (shared with Aliyun SMS), then `channel_options.voice_aliyun`."""

    access_key_id: str = ""  # unset: calls fail with the reason (pushes are still refused)
    access_key_secret: SecretStr = SecretStr("")
    called_show_number: str = Field(
        default="", description="The purchased number calls show (empty: public mode)."
    )
    endpoint: str = Field(default="dyvmsapi.aliyuncs.com", description="Host or base URL.")
    region_id: str = "cn-hangzhou"
    play_times: int = Field(default=2, ge=1, le=3, description="How often the message plays.")
    key_timeout_ms: int = Field(default=10_000, ge=1000, le=60_000, description="IvrCall Timeout")
    rate_per_second: float = Field(default=100.0, gt=0, description="IvrCall's 100 QPS a user.")
    per_number_per_minute: int = Field(default=1, ge=1, description="Calls to one number.")
    per_number_per_hour: int = Field(default=5, ge=1, description="Calls to one number.")
    push_token: SecretStr | None = Field(
        default=None, description="The secret in the push URLs (?token=); pushes refused unset."
    )
    push_allow: list[str] = Field(
        default_factory=list, description="Addresses or networks pushes may come from (any)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=20, ge=1)
    templates: Path | None = Field(default=None, description="The book; set by the deployment.")
    public_base: str = ""


class VoiceAliyun(Channel[VoiceAliyunSettings]):
    """One call per phone (mobiles and landlines, mainland only); a warning's call is an IVR
    whose key presses Aliyun pushes back with our delivery id (OutId)."""

    name = "voice_aliyun"
    medium = "voice"
    provider = "aliyun"
    label = "阿里云语音"
    settings_model = VoiceAliyunSettings
    settings_sections = ("aliyun",)
    capabilities = Capabilities(
        audience=Audience.person,
        confirmations=frozenset({"keypress"}),
        reach=Reach.phone,
        form=TextForm.spoken,
    )
    hooks: ClassVar[dict[str, Hook]] = {
        VOICE_REPORT: Hook(voice_report),
        IVR_REPORT: Hook(ivr_report),
    }

    def __init__(self, settings: VoiceAliyunSettings) -> None:
        super().__init__(settings)
        self._client: Client | None = None
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """The deployment's template book and timeout; drills call the simulator only."""
        o = dict(options)
        o.setdefault("timeout_seconds", deployment.timeout_seconds)
        o.setdefault("concurrency", deployment.concurrency)
        if deployment.drill:
            o["endpoint"] = f"{deployment.simulator().rstrip('/')}/{SIM_PATH}"
        if deployment.config_dir is not None:
            o["templates"] = book_path(deployment.config_dir, cls.name)
        o["public_base"] = deployment.public_base
        return cls.settings_model.model_validate(o)

    def verify(self, request: HookRequest) -> bool:
        """Aliyun signs no push: the URL's secret token, and the source when a list is set."""
        s = self.settings
        token = s.push_token.get_secret_value() if s.push_token else ""
        return push_allowed(request, token, s.push_allow)

    def limits(self) -> Limits:
        """The account's call rate, and carriers' per-number limits (1 a minute, 5 an hour)."""
        s = self.settings
        return Limits(
            rate_per_second=s.rate_per_second,
            credential=f"aliyun-voice:{s.access_key_id}",
            per_minute=s.per_number_per_minute,
            per_hour=s.per_number_per_hour,
            why="号码呼叫频次限制 / per-number call limit",
        )

    async def open(self) -> None:
        s = self.settings
        self._client = api.client(
            access_key_id=s.access_key_id,
            access_key_secret=s.access_key_secret.get_secret_value(),
            endpoint=s.endpoint,
            region_id=s.region_id,
            timeout=s.timeout_seconds,
        )
        self._slots = asyncio.Semaphore(s.concurrency)

    async def close(self) -> None:
        self._client = None

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        return [result async for result in self.send_stream(items)]

    async def send_stream(
        self, items: Sequence[SendItem], gate: SendGate | None = None
    ) -> AsyncIterator[SendResult]:
        """One request per call (Aliyun takes one number a request), each answer yielded as
        it arrives; the gate is asked right before each request goes."""
        if self._client is None:
            await self.open()
        assert self._slots is not None
        slots = self._slots

        async def one(item: SendItem) -> SendResult:
            async with slots:
                wait = gate.allow() if gate is not None else 0.0
                if wait:
                    return held(item, wait)
                try:
                    return await self._send(item)
                except ChannelError as exc:
                    return _failed(item, exc.code or "refused", exc.message)
                except Exception as exc:  # a bug, not the provider: the fate is unknown
                    return SendResult(
                        item.key, Outcome.unknown, error_code="error", message=type(exc).__name__
                    )

        tasks = [asyncio.ensure_future(one(item)) for item in items]
        try:
            for done in asyncio.as_completed(tasks):
                yield await done
        finally:  # the caller stopped listening: what has not gone yet does not go
            for task in tasks:
                task.cancel()

    def _fill(self, message: Message) -> Filled:
        """The approved template for the message (TemplateRefused when none can carry it)."""
        if self.settings.templates is None:
            raise ChannelError("未配置模板目录 / no template book configured", code="templates")
        return load_book(self.settings.templates, self.settings.public_base).fill(message)

    async def _send(self, item: SendItem) -> SendResult:
        assert self._client is not None
        if not self.settings.access_key_id:
            return _failed(item, "no_credentials", NO_KEY)
        number = api.mainland_number(item.address)
        if number is None:
            return _failed(item, "not_mainland", NOT_MAINLAND)
        if item.message is None:
            return _failed(item, "no_message", "呼叫缺少模板内容 / the call has no message")
        filled = self._fill(item.message)
        s = self.settings
        show = s.called_show_number or None
        if item.message.kind in IVR_KINDS:
            request: Any = models.IvrCallRequest(
                called_number=number,
                called_show_number=show,
                start_code=filled.code,
                start_tts_params=_params(filled),
                menu_key_map=self._menu(item.message, filled),
                play_times=s.play_times,
                timeout=s.key_timeout_ms,
                out_id=str(item.key),
            )
            answer = await api.call(self._client.ivr_call_async(request))
        else:
            request = models.SingleCallByTtsRequest(
                called_number=number,
                called_show_number=show,
                tts_code=filled.code,
                tts_param=_params(filled),
                play_times=s.play_times,
                out_id=str(item.key),
            )
            answer = await api.call(self._client.single_call_by_tts_async(request))
        detail = {"template": filled.code, "text": filled.text}
        if answer.outcome is not Outcome.accepted:
            return SendResult(
                item.key,
                answer.outcome,
                error_code=answer.code,
                message=answer.message,
                detail=detail,
                throttled=answer.throttled,
            )
        return SendResult(
            item.key, Outcome.accepted, provider_id=str(answer.body.get("CallId")), detail=detail
        )

    def _menu(self, message: Message, start: Filled) -> list[models.IvrCallRequestMenuKeyMap]:
        """Key 1 and 2 play their acknowledgements (the book's ack_safe and ack_help); 9 plays
        the message again."""
        menu = []
        for key, kind in MENU:
            ack = self._fill(Message(kind, message.hazard, message.level, message.values))
            menu.append(
                models.IvrCallRequestMenuKeyMap(key=key, code=ack.code, tts_params=_params(ack))
            )
        menu.append(
            models.IvrCallRequestMenuKeyMap(
                key=REPLAY_KEY, code=start.code, tts_params=_params(start)
            )
        )
        return menu

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        """Calls by CallId (QueryCallDetailByCallId, as IVR then as notification call). A call
        whose request timed out has no CallId: its push report (OutId) resolves it, or the
        household escalates."""
        if self._client is None:
            await self.open()
        return list(await asyncio.gather(*(self._lookup(item) for item in items)))

    async def _lookup(self, item: LookupItem) -> LookupResult:
        assert self._client is not None
        if not item.provider_id:
            return LookupResult(item.key, None)
        day = int(item.since.replace(tzinfo=item.since.tzinfo or dt.UTC).timestamp() * 1000)
        for product in PRODUCTS:
            request = models.QueryCallDetailByCallIdRequest(
                call_id=item.provider_id, prod_id=product, query_date=day
            )
            answer = await api.call(self._client.query_call_detail_by_call_id_async(request))
            if answer.outcome is not Outcome.accepted:
                return LookupResult(item.key, None)
            data = _detail(answer.body.get("Data"))
            if data:
                found = call_state(str(data.get("state") or ""))
                state, code = found or (ProviderState.sent, None)
                return LookupResult(item.key, True, item.provider_id, state, code)
        return LookupResult(item.key, False)


def _params(filled: Filled) -> str | None:
    return json.dumps(filled.params, ensure_ascii=False) if filled.params else None


def _detail(raw: object) -> dict[str, Any]:
    """The call detail (a JSON text in Data), empty when Aliyun knows no such call."""
    if isinstance(raw, str) and raw:
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _failed(item: SendItem, code: str, message: str) -> SendResult:
    return SendResult(item.key, Outcome.failed, error_code=code, message=message)
