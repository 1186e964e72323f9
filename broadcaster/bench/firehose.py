"""Signed provider webhooks fired at the API by a bare aiohttp client, many at a time."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp

from broadcaster.sim.forms import encode_form
from broadcaster.sim.signing import SIGNATURE_HEADER, signature

API_VERSION = "2010-04-01"


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    signature: str


@dataclass(frozen=True)
class Fired:
    sent: int
    statuses: dict[int, int]
    seconds: float

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def signed(url: str, params: dict[str, str], token: str) -> Request:
    return Request(url, encode_form(params), signature(token, url, params))


def status_callback(
    api_url: str,
    account: str,
    token: str,
    *,
    delivery_id: int,
    sid: str,
    to: str,
    sender: str,
    status: str,
) -> Request:
    """The message status callback the provider posts for one of our deliveries."""
    url = f"{api_url}/hooks/twilio/sms/status?d={delivery_id}"
    params = {
        "AccountSid": account,
        "ApiVersion": API_VERSION,
        "From": sender,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": to,
    }
    return signed(url, params, token)


def inbound_reply(
    api_url: str, account: str, token: str, *, sid: str, sender: str, to: str, body: str
) -> Request:
    """An incoming SMS from a resident to our sending number."""
    url = f"{api_url}/hooks/twilio/sms/inbound"
    params = {
        "AccountSid": account,
        "ApiVersion": API_VERSION,
        "Body": body,
        "From": sender,
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
    }
    return signed(url, params, token)


async def _fire(requests: list[Request], concurrency: int) -> Fired:
    statuses: Counter[int] = Counter()
    cursor = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=300)

    async def client(session: aiohttp.ClientSession) -> None:
        for request in cursor:
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                SIGNATURE_HEADER: request.signature,
            }
            try:
                async with session.post(request.url, data=request.body, headers=headers) as r:
                    await r.read()
                    statuses[r.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                statuses[0] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Fired(len(requests), dict(statuses), round(seconds, 3))


def fire(requests: list[Request], concurrency: int) -> Fired:
    """POST every request, `concurrency` at a time; each answer comes after its commit."""
    return asyncio.run(_fire(requests, concurrency))
