"""Status progression and signed webhook delivery: a delay line, a bounded queue, a sender pool."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from broadcaster.sim.forms import encode_form
from broadcaster.sim.lifecycle import apply_status, status_callback_params
from broadcaster.sim.signing import SIGNATURE_HEADER, signature
from broadcaster.sim.store import Message

if TYPE_CHECKING:
    from broadcaster.sim.state import SimState

log = logging.getLogger(__name__)
USER_AGENT = "TwilioProxy/1.1"
MAX_RESPONSE_KEPT = 2000


@dataclass(slots=True)
class Step:
    """The statuses still ahead of one message; the first is applied next."""

    sid: str
    statuses: tuple[str, ...]
    generation: int


class Dispatcher:
    """Applies status changes on time and posts their callbacks from a pool of senders."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.queue: asyncio.Queue[Step] = asyncio.Queue(maxsize=state.config.callback_queue_size)
        self.session: aiohttp.ClientSession | None = None
        self._heap: list[tuple[float, int, Step]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def started(self) -> bool:
        return self.session is not None

    def start(self) -> None:
        """Create the session, queue and tasks on the running loop (idempotent)."""
        if self.session is not None:
            return
        config = self.state.config
        connector = aiohttp.TCPConnector(limit=config.callback_concurrency + 8)
        self.session = aiohttp.ClientSession(connector=connector)
        self.queue = asyncio.Queue(maxsize=config.callback_queue_size)
        self._wake = asyncio.Event()
        self._tasks = [asyncio.create_task(self._timer())]
        for _ in range(config.callback_concurrency):
            self._tasks.append(asyncio.create_task(self._worker()))

    async def close(self) -> None:
        """Stop the tasks and close the session."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.session is not None:
            await self.session.close()
        self.session = None

    def pending(self) -> dict[str, int]:
        """How much work is waiting: in the queue and in the delay line."""
        return {"queued": self.queue.qsize(), "delayed": len(self._heap)}

    async def schedule(self, step: Step, delay: float) -> None:
        """Apply the step's next status after `delay` seconds (waits when the queue is full)."""
        self.start()
        if delay <= 0:
            await self.queue.put(step)
        else:
            self._later(step, delay)

    def _later(self, step: Step, delay: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, step))
        self._wake.set()

    async def _timer(self) -> None:
        while True:
            if not self._heap:
                await self._wake.wait()
                self._wake.clear()
                continue
            wait = self._heap[0][0] - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                self._wake.clear()
                continue
            _, _, step = heapq.heappop(self._heap)
            await self.queue.put(step)

    async def _worker(self) -> None:
        while True:
            step = await self.queue.get()
            try:
                await self._run(step)
            except Exception:
                log.exception("status step failed for %s", step.sid)
                self.state.store.counters["step_errors"] += 1
            finally:
                self.queue.task_done()

    async def _run(self, step: Step) -> None:
        state = self.state
        while step.generation == state.generation:
            message = state.store.messages.get(step.sid)
            if message is None:
                return
            apply_status(state.store, state.rng, message, step.statuses[0])
            config = state.config
            if config.callbacks and message.status_callback:
                await self.status_callback(message)
                if config.duplicate_callback_rate and (
                    state.rng.random() < config.duplicate_callback_rate
                ):
                    state.store.counters["callbacks_duplicated"] += 1
                    await self.status_callback(message)
            rest = step.statuses[1:]
            if not rest:
                return
            step = Step(step.sid, rest, step.generation)
            delay = config.callback_delay_ms / 1000
            if delay > 0:
                self._later(step, delay)
                return

    async def status_callback(self, message: Message) -> dict[str, Any]:
        """Post the message's current status to its StatusCallback URL."""
        assert message.status_callback is not None
        params = status_callback_params(message)
        record = await self.post_form(
            message.status_callback,
            params,
            self.state.config.accounts.get(message.account_sid, ""),
            retries=self.state.config.callback_retries,
            idempotency=f"{message.sid}-{message.status}",
        )
        record.update(kind="status", sid=message.sid, status=message.status)
        counters = self.state.store.counters
        counters["callbacks_sent" if record["ok"] else "callbacks_failed"] += 1
        self.state.store.log_callback(message, record)
        return record

    async def post_form(
        self,
        url: str,
        params: dict[str, str],
        auth_token: str,
        *,
        retries: int,
        idempotency: str,
    ) -> dict[str, Any]:
        """POST a signed form; retry connection errors and 5xx. Returns the outcome."""
        self.start()
        assert self.session is not None
        config = self.state.config
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": USER_AGENT,
            "I-Twilio-Idempotency-Token": idempotency,
            SIGNATURE_HEADER: signature(auth_token, url, params),
        }
        body = encode_form(params)
        timeout = aiohttp.ClientTimeout(total=config.callback_timeout_seconds)
        http_status: int | None = None
        error: str | None = None
        text = ""
        attempts = 0
        for attempt in range(retries + 1):
            attempts += 1
            try:
                async with self.session.post(
                    url, data=body, headers=headers, timeout=timeout
                ) as response:
                    http_status = response.status
                    text = (await response.text(errors="replace"))[:MAX_RESPONSE_KEPT]
                error = None if http_status < 500 else f"HTTP {http_status}"
                if error is not None:
                    self.state.store.counters["callback_5xx"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                http_status, error = None, f"{type(exc).__name__}: {exc}"[:300]
            if error is None or attempt == retries:
                break
            self.state.store.counters["callback_retries"] += 1
            await asyncio.sleep(config.callback_retry_delay_ms / 1000 * (2**attempt))
        return {
            "at": time.time(),
            "url": url,
            "http_status": http_status,
            "ok": http_status is not None and 200 <= http_status < 300,
            "attempts": attempts,
            "error": error,
            "response": text,
            "params": params,
        }
