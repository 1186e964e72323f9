"""A simulated call's life: dialling, answering, running its TwiML, keys, signed callbacks."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError

import aiohttp
import defusedxml.ElementTree as defused_et  # type: ignore[import-untyped]

from broadcaster.sim.forms import encode_form
from broadcaster.sim.signing import SIGNATURE_HEADER, signature
from broadcaster.sim.store import API_VERSION, rfc2822

if TYPE_CHECKING:
    from broadcaster.sim.state import SimState

log = logging.getLogger(__name__)
FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
ANSWERING = ("human", "machine")
EVENTS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
MAX_DOCUMENTS = 20  # TwiML documents one action may fetch: a <Redirect> loop ends there
MAX_TWIML_CHARS = 100_000


class Conflict(Exception):
    """The call is not in a state that allows this action."""


@dataclass(slots=True)
class Gather:
    """A <Gather> waiting for keys: where they go, how many, and what follows silence."""

    action: str
    num_digits: int | None
    rest: list[Element]


@dataclass(eq=False)
class Call:
    """One outbound call and everything the simulator saw of it."""

    sid: str
    account_sid: str
    to: str
    from_: str
    url: str
    twiml: str | None
    fate: str
    status_callback: str | None
    events: frozenset[str]
    detect: bool
    amd_callback: str | None
    status: str = "queued"
    answered_by: str | None = None
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    started: float | None = None
    answered: float | None = None
    ended: float | None = None
    sequence: int = 0
    document_url: str = ""
    gather: Gather | None = None
    transcript: list[dict[str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CallFlow:
    """Moves calls along; every change of one call happens under that call's lock."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self, call: Call) -> None:
        """Begin dialling in the background; /answer waits until the phone rings."""
        await call.lock.acquire()  # released by _dial
        task = asyncio.create_task(self._dial(call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _dial(self, call: Call) -> None:
        """queued → initiated → ringing, or on to failed / busy / no-answer; maybe answered."""
        config = self.state.config.calls
        try:
            try:
                call.started = time.time()
                await self._announce(call, "initiated")
                if call.fate != "failed":
                    await asyncio.sleep(config.ring_ms / 1000)
                if call.fate in ("failed", "busy"):
                    await self._finish(call, call.fate)
                else:
                    await self._announce(call, "ringing")
                    if call.fate == "no-answer":
                        await asyncio.sleep(config.ring_ms / 1000)
                        await self._finish(call, "no-answer")
            finally:
                call.lock.release()
            if config.auto_answer and call.status == "ringing":
                await asyncio.sleep(config.answer_after_ms / 1000)
                await self.answer(call)
        except Conflict:
            pass  # the resident hung up meanwhile
        except Exception:
            log.exception("simulated call %s failed", call.sid)

    async def answer(self, call: Call) -> None:
        """The phone is picked up: the AMD verdict, the TwiML, and a machine's silence."""
        async with call.lock:
            if call.status != "ringing" or call.fate not in ANSWERING:
                raise Conflict(f"the call is {call.status}, not ringing")
            call.answered = time.time()
            if call.detect:
                call.answered_by = "machine_start" if call.fate == "machine" else "human"
            await self._announce(call, "in-progress")
            if call.twiml:
                verbs = self._parse(call, call.twiml, {"at": time.time(), "url": "(Twiml)"})
            else:
                verbs = await self._fetch(call, call.url)
            if call.amd_callback and call.answered_by:
                params = {"AccountSid": call.account_sid, "CallSid": call.sid}
                params.update(AnsweredBy=call.answered_by, MachineDetectionDuration="1800")
                await self._post(call, call.amd_callback, params, f"{call.sid}-amd")
            await self._run(call, verbs)
            keys = "" if call.fate == "machine" else self.state.config.calls.auto_press
            for _ in range(MAX_DOCUMENTS):
                if keys is None or call.gather is None:
                    break
                await self._press(call, keys)
            if call.gather is not None and self.state.config.calls.silence_after_ms is not None:
                task = asyncio.create_task(self._time_out_prompts(call))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _time_out_prompts(self, call: Call) -> None:
        """Nobody presses a key: each prompt times out and the verbs after it run."""
        delay = (self.state.config.calls.silence_after_ms or 0) / 1000
        for _ in range(MAX_DOCUMENTS):
            await asyncio.sleep(delay)
            async with call.lock:
                if call.gather is None or call.status != "in-progress":
                    return
                await self._press(call, "")

    async def press(self, call: Call, keys: str) -> None:
        async with call.lock:
            await self._press(call, keys)

    async def _press(self, call: Call, keys: str) -> None:
        """Keys at a waiting <Gather> ('' is silence: the verbs after it run)."""
        gather = call.gather
        if call.status != "in-progress" or gather is None:
            raise Conflict(f"the call is {call.status} and not waiting for a key")
        call.gather = None
        keys = keys[: gather.num_digits] if gather.num_digits else keys
        if not keys:
            return await self._run(call, gather.rest)
        call.keys.append(keys)
        return await self._run(call, await self._fetch(call, gather.action, Digits=keys))

    async def hangup(self, call: Call) -> None:
        """The resident hangs up: a ringing call is declined (busy), a live one completed."""
        async with call.lock:
            if call.status not in ("ringing", "in-progress"):
                raise Conflict(f"the call is {call.status}")
            await self._finish(call, "busy" if call.status == "ringing" else "completed")

    async def _run(self, call: Call, verbs: list[Element] | None) -> None:
        """Execute TwiML until a <Gather> waits; at <Hangup/> or the end the call completes."""
        for _ in range(MAX_DOCUMENTS):
            if verbs is None:
                break
            verbs = await self._execute(call, verbs)
            if call.gather is not None:
                return
        await self._finish(call, "completed")

    async def _execute(self, call: Call, verbs: list[Element]) -> list[Element] | None:
        """One document's verbs; returns the next document (<Redirect>) or None (hang up)."""
        for index, verb in enumerate(verbs):
            if verb.tag in ("Say", "Play"):
                self._hear(call, verb)
            elif verb.tag == "Gather":
                for inner in verb:
                    self._hear(call, inner)
                action = urljoin(call.document_url, verb.get("action", ""))
                digits = verb.get("numDigits", "")
                number = int(digits) if digits.isdigit() else None
                call.gather = Gather(action, number, verbs[index + 1 :])
                return []
            elif verb.tag == "Redirect":
                target = urljoin(call.document_url, (verb.text or "").strip())
                return await self._fetch(call, target)
            elif verb.tag == "Hangup":
                return None
        return None

    @staticmethod
    def _hear(call: Call, verb: Element) -> None:
        if verb.tag in ("Say", "Play"):
            entry = {"verb": verb.tag, "text": (verb.text or "").strip()}
            entry.update({k: v for k, v in verb.attrib.items() if k in ("language", "voice")})
            call.transcript.append(entry)

    async def _fetch(self, call: Call, url: str, **extra: str) -> list[Element] | None:
        """POST the call's parameters to a TwiML URL, signed; None when no TwiML comes."""
        state = self.state
        state.dispatcher.start()
        assert state.dispatcher.session is not None
        params = {**self.params(call, call.status, for_twiml=True), **extra}
        token = state.config.accounts.get(call.account_sid, "")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            SIGNATURE_HEADER: signature(token, url, params),
        }
        entry: dict[str, Any] = {"at": time.time(), "url": url, "params": params}
        timeout = aiohttp.ClientTimeout(total=state.config.callback_timeout_seconds)
        call.document_url, text = url, ""
        try:
            async with state.dispatcher.session.post(
                url, data=encode_form(params), headers=headers, timeout=timeout
            ) as response:
                entry["http_status"] = response.status
                text = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
        if entry.get("http_status") == 200:
            return self._parse(call, text, entry)
        entry.setdefault("error", f"HTTP {entry.get('http_status')}")
        call.requests.append(entry)
        state.store.counters["twiml_errors"] += 1
        return None

    def _parse(self, call: Call, text: str, entry: dict[str, Any]) -> list[Element] | None:
        """The verbs of a TwiML document (parsed with entities and DTDs refused)."""
        root: Element | None = None
        try:
            root = defused_et.fromstring(text[:MAX_TWIML_CHARS])
            if root is None or root.tag != "Response":
                raise ValueError("the document is not a <Response>")
        except (ParseError, ValueError) as exc:
            entry["error"], root = f"invalid TwiML: {exc}"[:300], None
            self.state.store.counters["twiml_errors"] += 1
        call.requests.append(entry)
        return list(root) if root is not None else None

    @staticmethod
    def params(call: Call, status: str, *, for_twiml: bool = False) -> dict[str, str]:
        """The parameters of every voice request about this call."""
        params = {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }
        if call.answered_by and not (for_twiml and call.amd_callback):  # async AMD: not yet
            params["AnsweredBy"] = call.answered_by
        return params

    async def _finish(self, call: Call, status: str) -> None:
        if call.status not in FINAL:
            call.ended, call.gather = time.time(), None
            await self._announce(call, status)

    async def _announce(self, call: Call, status: str) -> None:
        """Move the call on; post a status callback when its event was asked for."""
        if status != "initiated":  # a callback status only, never the resource's
            call.status, call.updated = status, time.time()
        if call.status_callback is None or EVENTS.get(status, "completed") not in call.events:
            return
        params = self.params(call, status)
        params.update(CallbackSource="call-progress-events", Timestamp=rfc2822(time.time()))
        params["SequenceNumber"] = str(call.sequence)
        call.sequence += 1
        if status in FINAL:
            talked = round((call.ended or time.time()) - call.answered) if call.answered else 0
            params.update(CallDuration=str(talked), Duration=str(-(-talked // 60)))
        await self._post(call, call.status_callback, params, f"{call.sid}-{status}")

    async def _post(self, call: Call, url: str, params: dict[str, str], key: str) -> None:
        """A signed webhook, retried like message callbacks, logged on the call and globally."""
        state = self.state
        if not state.config.callbacks:
            return
        record = await state.dispatcher.post_form(
            url,
            params,
            state.config.accounts.get(call.account_sid, ""),
            retries=state.config.callback_retries,
            idempotency=key,
        )
        record.update(kind="call", sid=call.sid, status=params.get("CallStatus", "amd"))
        state.store.counters["callbacks_sent" if record["ok"] else "callbacks_failed"] += 1
        state.store.log_callback(None, record)
        call.callbacks.append({k: record.get(k) for k in ("at", "status", "http_status", "ok")})
