"""The raw limit of the simulated Aliyun SMS: SendSms (one number each) or SendBatchSms (up to
100 numbers each) POSTed by a bare aiohttp client, ACS3-HMAC-SHA256 signed beforehand as the
official SDK signs them, about a hundred at a time, with no bookkeeping."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlencode, urlsplit

import aiohttp

from broadcaster.bench.raw import RawResult, numbers
from broadcaster.sim.aliyun_signing import ALGORITHM, string_to_sign

VERSION = "2017-05-25"
Request = tuple[dict[str, str], bytes, int]  # headers, body, numbers it carries


def signed(
    url: str, action: str, params: dict[str, str], key: tuple[str, str], count: int
) -> Request:
    """One RPC request with its ACS3 signature (form body, canonical URI "/")."""
    body = urlencode(params).encode()
    headers = {
        "host": urlsplit(url).netloc,
        "x-acs-action": action,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        "x-acs-date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": secrets.token_hex(16),
        "x-acs-version": VERSION,
    }
    names = sorted(headers)
    signature = hmac.new(
        key[1].encode(), string_to_sign("POST", "/", {}, headers, names).encode(), hashlib.sha256
    ).hexdigest()
    headers["authorization"] = (
        f"{ALGORITHM} Credential={key[0]},SignedHeaders={';'.join(names)},Signature={signature}"
    )
    headers["content-type"] = "application/x-www-form-urlencoded"
    return headers, body, count


def requests_for(
    url: str, fields: dict[str, str], key: tuple[str, str], count: int, batch: int
) -> list[Request]:
    """`count` numbers of the +86 1749 block with the fields of our first message (signature,
    template and its parameters): one SendSms each, or SendBatchSms of `batch` numbers."""
    phones = [n[3:] for n in numbers(count)]
    if batch <= 1:
        return [
            signed(url, "SendSms", {**_single(fields), "PhoneNumbers": phone}, key, 1)
            for phone in phones
        ]
    template = json.loads(fields.get("TemplateParam") or "{}")
    found = []
    for start in range(0, count, batch):
        chunk = phones[start : start + batch]
        params = {
            "PhoneNumberJson": json.dumps(chunk),
            "SignNameJson": json.dumps([fields["SignName"]] * len(chunk), ensure_ascii=False),
            "TemplateCode": fields["TemplateCode"],
            "TemplateParamJson": json.dumps([template] * len(chunk), ensure_ascii=False),
        }
        found.append(signed(url, "SendBatchSms", params, key, len(chunk)))
    return found


def _single(fields: dict[str, str]) -> dict[str, str]:
    kept = ("SignName", "TemplateCode", "TemplateParam")
    return {name: fields[name] for name in kept if name in fields}


async def _fire(url: str, requests: list[Request], concurrency: int) -> tuple[int, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    ok = 0
    cursor = iter(requests)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal ok
        for headers, body, count in cursor:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.json(content_type=None)
                if response.status == 200 and answer.get("Code") == "OK":
                    ok += count

    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return ok, seconds


def run_raw_aliyun(
    base_url: str,
    *,
    key: tuple[str, str],
    fields: dict[str, str],
    count: int,
    batch: int = 1,
    concurrency: int = 100,
) -> RawResult:
    """Send `count` numbers as our fan-out did (single or batched) and time them; `requests`
    counts numbers, as `ok` does."""
    url = f"{base_url}/sim/dysmsapi/"
    prepared = requests_for(url, fields, key, count, batch)
    ok, seconds = asyncio.run(_fire(url, prepared, concurrency))
    return RawResult(count, ok, round(seconds, 3))
