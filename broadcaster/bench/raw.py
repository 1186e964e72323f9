"""The raw limit: message creates POSTed to the simulator by a bare aiohttp client, about a
hundred at a time, form-encoded as the twilio library sends them, with no bookkeeping."""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp


@dataclass(frozen=True)
class RawResult:
    requests: int
    ok: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def basic_auth(account: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{account}:{token}".encode()).decode()


def numbers(count: int, start: int = 0) -> list[str]:
    """Distinct E.164 numbers in the unassigned +86 1749 block."""
    return [f"+861749{n:07d}" for n in range(start, start + count)]


async def _fire(url: str, auth: str, bodies: list[bytes], concurrency: int) -> tuple[int, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    ok = 0
    cursor = iter(bodies)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal ok
        for body in cursor:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status == 201:
                    ok += 1

    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return ok, seconds


def run_raw(
    sim_url: str,
    *,
    account: str,
    token: str,
    sender: str,
    body: str,
    count: int,
    concurrency: int = 100,
) -> RawResult:
    """POST `count` message creates and time them (the bodies are prepared beforehand)."""
    url = f"{sim_url}/sim/2010-04-01/Accounts/{account}/Messages.json"
    bodies = [
        urlencode({"To": to, "From": sender, "Body": f"{body} {n}"}).encode()
        for n, to in enumerate(numbers(count))
    ]
    ok, seconds = asyncio.run(_fire(url, basic_auth(account, token), bodies, concurrency))
    return RawResult(count, ok, round(seconds, 3))
