"""Aliyun's HTTP batch pushes: SmsReport receipts collected into JSON arrays, SmsUp replies; an
answer other than {"code":0} is pushed again later."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp

from broadcaster.sim.aliyun_sms_config import AliyunSmsSimConfig

if TYPE_CHECKING:
    from broadcaster.sim.aliyun_sms_records import Sms
    from broadcaster.sim.state import SimState

CHINA = ZoneInfo("Asia/Shanghai")
KEPT = 10_000
ERR_MSG = {"DELIVERED": "用户接收成功", "MN:0001": "空号"}


def stamp(at: dt.datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


class PushError(Exception):
    """A push that cannot be made (no URL configured)."""


class Pusher:
    """Receipts wait `report_delay_ms` and go out in arrays of up to `report_batch`."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.pending: list[tuple[Sms, str]] = []
        self.pushes: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self.sequence = 0
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        state.closers.append(self.aclose)

    @property
    def config(self) -> AliyunSmsSimConfig:
        config: AliyunSmsSimConfig = self.state.config.aliyun_sms
        return config

    def clear(self) -> None:
        self.pending.clear()
        self.pushes.clear()

    async def aclose(self) -> None:
        tasks = [*self._tasks, *([self._flusher] if self._flusher else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._flusher = None

    def report(self, sms: Sms, fate: str) -> None:
        """The carrier's receipt for `sms` will be `fate` (DELIVERED or an error code)."""
        self.pending.append((sms, fate))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(self.config.report_delay_ms / 1000)
        while self.pending:
            size = self.config.report_batch
            batch, self.pending[:size] = self.pending[:size], []
            items = [self._receipt(sms, fate) for sms, fate in batch]
            url = self.config.report_url
            if url:
                self._spawn(self.push("SmsReport", url, items))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _receipt(sms: Sms, fate: str) -> dict[str, Any]:
        ok = fate == "DELIVERED"
        sms.status, sms.err_code = (3 if ok else 2), fate
        sms.report_time = dt.datetime.now(dt.UTC)
        return {
            "phone_number": sms.phone_number,
            "send_time": stamp(sms.send_time),
            "report_time": stamp(sms.report_time),
            "success": ok,
            "err_code": fate,
            "err_msg": ERR_MSG.get(fate, "失败"),
            "sms_size": str(sms.sms_size),
            "biz_id": sms.biz_id,
            "out_id": sms.fields.get("OutId", ""),
        }

    async def up(self, phone: str, content: str, sign_name: str) -> dict[str, Any]:
        """A resident's SMS to the signature's number, pushed at once."""
        url = self.config.up_url
        if not url:
            raise PushError("no up_url (SmsUp push URL) is configured")
        self.sequence += 1
        item = {
            "phone_number": phone,
            "send_time": stamp(dt.datetime.now(dt.UTC)),
            "content": content,
            "sign_name": sign_name,
            "dest_code": self.config.dest_code,
            "sequence_id": self.state.rng.randrange(10**9, 10**10) * 10 + self.sequence % 10,
        }
        return await self.push("SmsUp", url, [item])

    async def push(self, kind: str, url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """POST the JSON array; pushed again after each configured wait until answered
        {"code": 0}."""
        self.state.dispatcher.start()
        session = self.state.dispatcher.session
        assert session is not None
        config = self.config
        body = json.dumps(items, ensure_ascii=False).encode()
        timeout = aiohttp.ClientTimeout(total=config.push_timeout_seconds)
        record: dict[str, Any] = {"kind": kind, "url": url, "items": items, "attempts": 0}
        waits = [*config.push_retry_ms, None]
        for wait in waits:
            record["attempts"] += 1
            status, text = None, ""
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout
                ) as response:
                    status, text = response.status, (await response.text(errors="replace"))[:2000]
            except (aiohttp.ClientError, TimeoutError) as exc:
                text = f"{type(exc).__name__}: {exc}"[:300]
            record.update(http_status=status, response=text, ok=_acknowledged(status, text))
            if record["ok"] or wait is None:
                break
            await asyncio.sleep(wait / 1000)
        record["at"] = time.time()
        self.pushes.append(record)
        return record


def _acknowledged(status: int | None, text: str) -> bool:
    """Whether the receiver answered as Aliyun requires: HTTP 200 and {"code": 0}."""
    if status != 200:
        return False
    try:
        answer = json.loads(text)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("code") == 0
