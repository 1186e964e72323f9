"""Simulated Aliyun voice calls: the resident's side, and reports pushed in batches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from broadcaster.sim.aliyun_voice_config import FATE_CODES, AliyunVoiceSimConfig

IVR, TTS = "IvrCall", "SingleCallByTts"
LISTENED, HUNG_UP, NO_KEY, NO_ANSWER = "200000", "200001", "200008", "200003"
DTMF = "300000"
MAX_PUSHES_KEPT = 50


class Conflict(Exception):
    """The call is not in a state to do that."""


def stamp(at: float | None) -> str:
    """Aliyun's time format (Beijing time) in reports; empty when it did not happen."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at + 8 * 3600)) if at else ""


@dataclass
class Prompt:
    """A TTS template as the call plays it: its code, parameters as sent, and the text."""

    code: str
    params: str | None
    text: str


@dataclass
class Call:
    """One call placed through the API."""

    call_id: str
    action: str
    access_key_id: str
    called: str
    show: str | None
    start: Prompt
    menu: dict[str, Prompt]
    out_id: str | None
    play_times: int
    fate: str
    request: dict[str, str]
    status: str = "ringing"  # ringing → answered → ended
    status_code: str | None = None
    status_msg: str = ""
    created: float = field(default_factory=time.time)
    answered: float | None = None
    ended: float | None = None
    plays: int = 0
    keys: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)

    def voice_report(self) -> dict[str, Any]:
        """The VoiceReport entry of the ended call."""
        talked = round((self.ended or 0) - self.answered) if self.answered else 0
        return {
            "call_id": self.call_id,
            "start_time": stamp(self.answered),
            "end_time": stamp(self.ended if self.answered else None),
            "duration": str(talked),
            "status_code": self.status_code,
            "status_msg": self.status_msg,
            "out_id": self.out_id or "",
            "dtmf": "".join(self.keys),
        }

    def detail(self) -> dict[str, Any]:
        """What QueryCallDetailByCallId says of it (Data, as a JSON text)."""
        return {
            "callId": self.call_id,
            "callee": self.called,
            "caller": self.show or "",
            "state": self.status_code or "",
            "stateDesc": self.status_msg or self.status,
            "duration": int((self.ended or time.time()) - self.answered) if self.answered else 0,
            "gmtCreate": stamp(self.created),
            "startDate": stamp(self.answered),
            "endDate": stamp(self.ended),
        }

    def listing(self) -> dict[str, Any]:
        """The call for GET /api/aliyun/voice: the request's fields, the text and the keys."""
        code_name, params_name = (
            ("StartCode", "StartTtsParams")
            if self.action == IVR
            else (
                "TtsCode",
                "TtsParam",
            )
        )
        return {
            "CallId": self.call_id,
            "Action": self.action,
            "CalledNumber": self.called,
            "CalledShowNumber": self.show,
            code_name: self.start.code,
            params_name: self.start.params,
            "params": json.loads(self.start.params) if self.start.params else {},
            "OutId": self.out_id,
            "PlayTimes": self.play_times,
            "MenuKeyMap": [
                {"Key": k, "Code": p.code, "TtsParams": p.params} for k, p in self.menu.items()
            ],
            "text": self.start.text,
            "status": self.status,
            "status_code": self.status_code,
            "keys": list(self.keys),
            "transcript": list(self.transcript),
            "pushes": list(self.pushes),
            "fate": self.fate,
            "request": dict(self.request),  # every field as the SDK sent it
        }


class Pusher:
    """Gathers reports per push URL and posts them as JSON arrays, retrying failed pushes."""

    def __init__(self, config: Callable[[], AliyunVoiceSimConfig]) -> None:
        self.config = config
        self.pending: dict[str, list[tuple[dict[str, Any], Call, str]]] = {}
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def add(self, url: str | None, kind: str, entry: dict[str, Any], call: Call) -> None:
        if not url:
            call.pushes.append({"kind": kind, "ok": False, "error": "no push URL configured"})
            return
        batch = self.pending.setdefault(url, [])
        batch.append((entry, call, kind))
        if len(batch) == 1:
            task = asyncio.get_running_loop().create_task(self._flush(url))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _flush(self, url: str) -> None:
        config = self.config()
        await asyncio.sleep(config.push_every_ms / 1000)
        while self.pending.get(url):
            batch = self.pending[url][: config.push_batch]
            self.pending[url] = self.pending[url][config.push_batch :]
            await self._post(url, batch, config)

    async def _post(
        self, url: str, batch: list[tuple[dict[str, Any], Call, str]], config: AliyunVoiceSimConfig
    ) -> None:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        body = json.dumps([entry for entry, _call, _kind in batch], ensure_ascii=False)
        record: dict[str, Any] = {"url": url, "size": len(batch), "ok": False}
        for attempt in range(config.push_retries + 1):
            record["attempts"] = attempt + 1
            try:
                async with self.session.post(
                    url, data=body.encode(), headers={"Content-Type": "application/json"}
                ) as response:
                    record["http_status"] = response.status
                    record["response"] = (await response.text(errors="replace"))[:500]
                record["ok"] = record["http_status"] == 200 and _code_zero(record["response"])
            except (aiohttp.ClientError, TimeoutError) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"[:300]
            if record["ok"] or attempt == config.push_retries:
                break
            await asyncio.sleep(config.push_retry_delay_ms / 1000 * (attempt + 1))
        for _entry, call, kind in batch:
            if len(call.pushes) < MAX_PUSHES_KEPT:
                call.pushes.append({**record, "kind": kind})

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.session is not None:
            await self.session.close()
        self.session = None


def _code_zero(text: str) -> bool:
    """Aliyun checks only that the answer's code is a number."""
    with contextlib.suppress(ValueError, AttributeError):
        return isinstance(json.loads(text).get("code"), int)
    return False


class CallFlow:
    """What happens on the resident's side of a call, and the reports it makes."""

    def __init__(self, config: Callable[[], AliyunVoiceSimConfig]) -> None:
        self.config = config
        self.pusher = Pusher(config)

    def start(self, call: Call) -> None:
        """A number that does not answer ends the call with its code; else it rings, and
        answers (and presses) alone when configured so."""
        config = self.config()
        if call.fate in FATE_CODES:
            self.end(call, *FATE_CODES[call.fate])
        elif config.auto_answer:
            self.answer(call)
            if config.auto_press is not None:
                self.press(call, config.auto_press)

    def answer(self, call: Call) -> None:
        if call.status != "ringing":
            raise Conflict(f"the call is {call.status}")
        call.status, call.answered = "answered", time.time()
        self._play(call)
        if call.action == TTS:  # a notification call plays its times and ends
            while call.plays < call.play_times:
                self._play(call)
            self.end(call, LISTENED, "用户听完语音")
        else:
            self._wait_for_key(call)

    def _wait_for_key(self, call: Call) -> None:
        """Silence for `silence_after_ms` (no key since) counts as no key pressed."""
        delay = self.config().silence_after_ms
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if delay is None:
            return
        keys = len(call.keys)

        def silent() -> None:
            if call.status != "answered":
                return
            if len(call.keys) == keys:
                self.press(call, "")
            self._wait_for_key(call)

        loop.call_later(delay / 1000, silent)

    def press(self, call: Call, digits: str) -> None:
        """Each key is reported at once; 1 and 2 play their answer and end the call, 9 plays
        the message again; silence replays it until its play times are spent."""
        if call.status != "answered" or call.action != IVR:
            raise Conflict(f"the call is {call.status}, not an IVR call waiting for a key")
        if not digits:
            if call.plays < call.play_times:
                self._play(call)
            else:
                self.end(call, NO_KEY, "获取按键超时")
            return
        for digit in digits:
            call.keys.append(digit)
            entry = {
                "call_id": call.call_id,
                "status_code": DTMF,
                "status_time": stamp(time.time()),
                "out_id": call.out_id or "",
                "dtmf": digit,
            }
            self.pusher.add(self.config().ivr_report_url, "VoiceCallReport", entry, call)
            prompt = call.menu.get(digit)
            if prompt is None:
                continue
            call.transcript.append(prompt.text)
            if prompt.code == call.start.code:
                call.plays += 1
                continue
            self.end(call, LISTENED, "用户听完语音")
            return

    def hangup(self, call: Call) -> None:
        if call.status == "ended":
            raise Conflict("the call has ended")
        if call.status == "answered":
            self.end(call, HUNG_UP, "用户提前挂机")
        else:
            self.end(call, NO_ANSWER, "用户收到呼叫但未接听")

    def end(self, call: Call, code: str, message: str) -> None:
        call.status, call.status_code, call.status_msg = "ended", code, message
        call.ended = time.time()
        self.pusher.add(self.config().report_url, "VoiceReport", call.voice_report(), call)

    def _play(self, call: Call) -> None:
        call.plays += 1
        call.transcript.append(call.start.text)
