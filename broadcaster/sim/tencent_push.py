"""Simulated Tencent Cloud SMS: its configuration, and its pushes of status reports (in
batches) and residents' replies to the account's callback URLs."""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

# The shipped book of approved templates (a source checkout): the simulator's account has them.
BOOK = Path(__file__).resolve().parents[2] / "config/templates/providers/sms_tencent.toml"
MAX_KEPT = 10_000


def _book() -> dict[str, Any]:
    try:
        with BOOK.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def approved_templates() -> dict[str, str]:
    """The account's approved templates (id → text with {1}, {2}…), as the shipped book says."""
    found: dict[str, str] = {}
    for entry in _book().get("templates", {}).values():
        text = str(entry.get("text", ""))
        for number, variable in enumerate(entry.get("variables", {}), start=1):
            text = text.replace(f"${{{variable}}}", f"{{{number}}}")
        found[str(entry.get("code"))] = text
    return found


def approved_signs() -> list[str]:
    sign = _book().get("sign_name")
    return [str(sign)] if sign else []


class TencentSimConfig(BaseModel):
    """The simulated Tencent Cloud SMS account and its faults."""

    model_config = ConfigDict(extra="forbid")

    secrets: dict[str, str] = Field(default_factory=dict, description="SecretId -> SecretKey.")
    apps: list[str] = Field(default_factory=list, description="Known SmsSdkAppIds.")
    signs: list[str] = Field(default_factory=approved_signs, description="Approved signatures.")
    templates: dict[str, str] = Field(
        default_factory=approved_templates, description="Approved TemplateId -> text ({1}, {2})."
    )
    public_base: str = Field(default="", description="Replaces {public_base} in template texts.")
    thirty_second_limit: int | None = Field(default=1, ge=1)
    one_hour_limit: int | None = Field(default=5, ge=1)
    daily_limit: int | None = Field(default=10, ge=1)
    down: bool = Field(default=False, description="Every request answered 503, nothing sent.")
    error_rate: float = Field(default=0, ge=0, le=1, description="Answered 502, nothing sent.")
    timeout_rate: float = Field(default=0, ge=0, le=1)
    timeout_seconds: float = Field(default=30, ge=0)
    timeout_sends: bool = Field(default=True, description="A timed-out SendSms still sends.")
    latency_ms: float = Field(default=0, ge=0)
    failed_rate: float = Field(default=0, ge=0, le=1, description="Reports that say FAIL.")
    number_fates: dict[str, Literal["SUCCESS", "FAIL"]] = Field(default_factory=dict)
    status_url: str | None = Field(default=None, description="Status report callback URL.")
    reply_url: str | None = Field(default=None, description="Reply callback URL.")
    report_delay_ms: float = Field(default=500, ge=0, description="Send to status report.")
    push_batch: int = Field(default=100, ge=1, le=1000)
    push_retries: int = Field(default=2, ge=0, le=10)
    push_retry_delay_ms: float = Field(default=200, ge=0)


@dataclass(slots=True)
class Sms:
    """One number of one accepted SendSms request, and its fate."""

    serial_no: str
    phone: str  # as sent, E.164
    nationcode: str
    mobile: str
    context: str
    text: str
    fate: str  # SUCCESS or FAIL
    sent_at: float
    reported_at: float | None = None
    pulled: bool = False

    def report(self) -> dict[str, Any]:
        """The status report as Tencent pushes it (one entry of the array)."""
        ok = self.fate == "SUCCESS"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.reported_at or time.time()))
        return {
            "user_receive_time": stamp,
            "nationcode": self.nationcode,
            "mobile": self.mobile,
            "report_status": self.fate,
            "errmsg": "DELIVRD" if ok else "UNDELIV",
            "description": "用户短信送达成功" if ok else "用户短信接收失败",
            "sid": self.serial_no,
            "ext": self.context,
        }


class Pusher:
    """Posts JSON arrays to callback URLs: reports in batches once due, replies at once."""

    def __init__(self, config: Callable[[], TencentSimConfig]) -> None:
        self.config = config  # the live knobs, read at each push
        self.due: deque[tuple[float, Sms]] = deque()
        self.log: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self._task: asyncio.Task[None] | None = None

    def report_later(self, sms: Sms, delay: float) -> None:
        self.due.append((time.monotonic() + delay, sms))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    def clear(self) -> None:
        self.due.clear()
        self.log.clear()

    async def _drain(self) -> None:
        """Reports as they fall due, up to a batch a push; ends when none is left."""
        while self.due:
            config = self.config()
            wait = self.due[0][0] - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.monotonic()
            batch: list[Sms] = []
            while self.due and self.due[0][0] <= now and len(batch) < config.push_batch:
                batch.append(self.due.popleft()[1])
            for sms in batch:
                sms.reported_at = time.time()
            if batch and config.status_url:
                await self.post(config.status_url, [s.report() for s in batch], "status")

    async def post(self, url: str, entries: list[dict[str, Any]], kind: str) -> dict[str, Any]:
        """POST the entries as one JSON array; retried on failure as Tencent does."""
        config = self.config()
        status: int | None = None
        answer, error = "", None
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(config.push_retries + 1):
                try:
                    async with session.post(url, json=entries) as response:
                        status, answer = response.status, (await response.text())[:500]
                    error = None if status == 200 else f"HTTP {status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status, error = None, f"{type(exc).__name__}: {exc}"[:300]
                if error is None or attempt == config.push_retries:
                    break
                await asyncio.sleep(config.push_retry_delay_ms / 1000)
        record = {
            "kind": kind,
            "url": url,
            "entries": entries,
            "http_status": status,
            "ok": error is None,
            "error": error,
            "response": answer,
            "at": time.time(),
        }
        self.log.append(record)
        return record
