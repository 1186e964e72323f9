"""WeCom (企业微信) group robot channel: one webhook post per robot, errcodes mapped to outcomes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, Field

from channels.base import (
    Audience,
    Capabilities,
    Channel,
    Limits,
    Outcome,
    Reach,
    SendItem,
    SendResult,
    TextForm,
)
from channels.config import Deployment

log = logging.getLogger(__name__)

# WeCom allows each robot 20 messages a minute; the core enforces it across workers.
PER_ROBOT_PER_MINUTE = 20
TEXT_MAX_BYTES = 2048  # text.content, UTF-8 bytes
MARKDOWN_MAX_BYTES = 4096  # markdown.content, UTF-8 bytes
RATE_LIMITED = 45009  # "api freq out of limit"
SEND_PATH = "/cgi-bin/webhook/send"
TOO_MANY = 429
RETRY_HTTP = frozenset({TOO_MANY, 500, 502, 503, 504})
ELLIPSIS = "…"
LINK = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
MOBILE_NOISE = re.compile(r"[\s\-().]")


class WecomGroupSettings(BaseModel):
    api_base_url: str = "https://qyapi.weixin.qq.com"
    message_type: Literal["text", "markdown"] = "text"
    timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=20, ge=1)


def mask_key(key: str) -> str:
    """A webhook key safe to log: its first and last four characters (nothing if short)."""
    return f"{key[:4]}{ELLIPSIS}{key[-4:]}" if len(key) >= 12 else ELLIPSIS


def normalise_mobile(number: str) -> str:
    """A mobile as WeCom wants it: mainland numbers as 11 bare digits ("+86 138-…" → "138…")."""
    bare = MOBILE_NOISE.sub("", number)
    if bare == "@all":
        return bare
    for prefix in ("+86", "0086"):
        if bare.startswith(prefix):
            return bare[len(prefix) :]
    if len(bare) == 13 and bare.startswith("861"):
        return bare[2:]
    return bare


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of text within max_bytes of UTF-8, never splitting a character."""
    return text.encode()[: max(max_bytes, 0)].decode("utf-8", "ignore")


def _size(text: str) -> int:
    return len(text.encode())


def fit_content(body: str, max_bytes: int) -> tuple[str, bool]:
    """Body within max_bytes of UTF-8, and whether it was shortened.

    The confirmation link must survive: the line holding the last link and everything
    after it (the tail) is kept whole; the text before it is cut at a character boundary
    and ends with "…" on its own line before the tail. A tail longer than half the limit
    starts at the link itself instead. Without a link (or with an absurdly long one) the
    body is simply cut at the end and marked with "…".
    """
    if _size(body) <= max_bytes:
        return body, False
    links = list(LINK.finditer(body))
    tail = ""
    if links:
        link = links[-1]
        tail = body[body.rfind("\n", 0, link.start()) + 1 :]
        if _size(tail) > max_bytes // 2:
            tail = body[link.start() :]
    room = max_bytes - _size(tail) - _size(ELLIPSIS + "\n")
    if not tail or room <= 0:
        return _cut(body, max_bytes - _size(ELLIPSIS)) + ELLIPSIS, True
    head = body[: len(body) - len(tail)].rstrip()
    return f"{_cut(head, room)}{ELLIPSIS}\n{tail}", True


def _mentions(item: SendItem) -> tuple[list[str], list[str]]:
    """(mentioned_list, mentioned_mobile_list) from the item's extra, cleaned and deduplicated."""
    users = [str(u).strip() for u in item.extra.get("mentioned_list") or [] if str(u).strip()]
    mobiles = [normalise_mobile(str(m)) for m in item.extra.get("mentioned_mobile_list") or []]
    return list(dict.fromkeys(users)), list(dict.fromkeys(m for m in mobiles if m))


class WecomGroup(Channel[WecomGroupSettings]):
    """One post per group robot; the message carries the confirmation link and @-mentions.

    Each SendItem's address is the robot's webhook key (a secret, only ever logged
    masked). WeCom returns no message id, so accepted results have provider_id None.
    Markdown cannot @-mention by mobile: in markdown mode user ids are mentioned with
    `<@userid>` in the content and mobiles are not carried (counted in the detail).
    """

    name = "wecom_group"
    label = "企业微信群"
    settings_model = WecomGroupSettings
    settings_sections = ("wecom",)
    capabilities = Capabilities(
        audience=Audience.group,
        confirmations=frozenset({"link"}),
        reach=Reach.group_robot,
        form=TextForm.group_post,
    )

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """The `[wecom]` section; the delivery timeout; drills post to the simulator."""
        o = {"timeout_seconds": deployment.timeout_seconds, **options}
        if deployment.drill:
            o["api_base_url"] = deployment.simulator()
        return cls.settings_model.model_validate(o)

    def limits(self) -> Limits:
        """WeCom refuses a robot's 21st message within a minute."""
        return Limits(rolling=(PER_ROBOT_PER_MINUTE, 60.0), why="机器人每分钟限20条 / robot limit")

    def __init__(self, settings: WecomGroupSettings) -> None:
        super().__init__(settings)
        self._session: aiohttp.ClientSession | None = None
        self._url = settings.api_base_url.rstrip("/") + SEND_PATH

    async def open(self) -> None:
        if self._session is not None and not self._session.closed:
            return
        limit = self.settings.concurrency
        total = self.settings.timeout_seconds
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
            timeout=aiohttp.ClientTimeout(total=total, sock_connect=total / 2),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        if self._session is None or self._session.closed:
            await self.open()
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(item: SendItem) -> SendResult:
            async with gate:
                return await self._send(item)

        return list(await asyncio.gather(*(one(item) for item in items)))

    def payload(self, item: SendItem) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON document for one item, and what the result's detail should say."""
        users, mobiles = _mentions(item)
        if self.settings.message_type == "markdown":
            suffix = ("\n" + " ".join(f"<@{u}>" for u in users)) if users else ""
            content, cut = fit_content(item.body, MARKDOWN_MAX_BYTES - _size(suffix))
            document: dict[str, Any] = {"content": content + suffix}
            detail: dict[str, Any] = {"mentions": len(users), "mobiles_not_mentioned": len(mobiles)}
        else:
            content, cut = fit_content(item.body, TEXT_MAX_BYTES)
            document = {"content": content}
            if users:
                document["mentioned_list"] = users
            if mobiles:
                document["mentioned_mobile_list"] = mobiles
            detail = {"mentions": len(users) + len(mobiles)}
        msgtype = self.settings.message_type
        detail.update(robot=mask_key(item.address), msgtype=msgtype, truncated=cut)
        return {"msgtype": msgtype, msgtype: document}, detail

    async def _send(self, item: SendItem) -> SendResult:
        assert self._session is not None
        if not item.address:
            text = "缺少机器人密钥 / no robot key"
            return SendResult(item.key, Outcome.failed, error_code="no_key", message=text)
        document, detail = self.payload(item)
        data = json.dumps(document, ensure_ascii=False).encode()
        try:
            async with self._session.post(
                self._url,
                params={"key": item.address},
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
            ) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return self._result(
                item, Outcome.retry, "connection", "连接失败 / connection failed", exc, detail
            )
        except (TimeoutError, aiohttp.ClientError) as exc:  # it may have been posted
            return self._result(
                item, Outcome.unknown, "timeout", "提供商未应答 / no answer", exc, detail
            )
        return self._answer(item, status, raw, detail)

    def _answer(
        self, item: SendItem, status: int, raw: bytes, detail: dict[str, Any]
    ) -> SendResult:
        """Map the HTTP status and WeCom's errcode (errors come as HTTP 200) to an outcome."""
        if status != 200:
            outcome = Outcome.retry if status in RETRY_HTTP else Outcome.failed
            result = self._result(item, outcome, f"http_{status}", f"HTTP {status}", None, detail)
            return replace(result, throttled=status == TOO_MANY)
        try:
            answer = json.loads(raw)
            errcode = int(answer["errcode"])
            errmsg = str(answer.get("errmsg", ""))
        except (ValueError, TypeError, KeyError) as exc:
            return self._result(
                item, Outcome.unknown, "bad_answer", "应答无法解析 / unreadable answer", exc, detail
            )
        if errcode == 0:  # a robot has no receipts: an accepted post is as delivered as it gets
            return SendResult(
                item.key, Outcome.accepted, provider_id=None, detail=detail, final=True
            )
        outcome = Outcome.retry if errcode == RATE_LIMITED else Outcome.failed
        result = self._result(item, outcome, str(errcode), errmsg, None, detail)
        return replace(result, throttled=errcode == RATE_LIMITED)  # slow down: WeCom is well

    @staticmethod
    def _result(
        item: SendItem,
        outcome: Outcome,
        code: str,
        text: str,
        exc: BaseException | None,
        detail: dict[str, Any],
    ) -> SendResult:
        """A non-accepted result; logged with the key masked (exception texts may hold URLs)."""
        reason = f"{text}: {type(exc).__name__}" if exc is not None else text
        level = logging.INFO if outcome is Outcome.retry else logging.WARNING
        log.log(level, "wecom robot %s: %s %s %s", detail["robot"], outcome, code, reason[:200])
        return SendResult(item.key, outcome, error_code=code, message=reason[:200], detail=detail)
