"""Aliyun's SendBatchSms: up to 100 numbers of one template in one call, one BizId for all.

Its one OutId cannot name each delivery, so each message is known by the batch's BizId and
its number (`batch_id`): pushed receipts of batched messages are matched by that, and
QuerySendDetails asks by phone and BizId. Aliyun recommends single SendSms for time-critical
alerts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from alibabacloud_dysmsapi20170525 import models
from darabonba.runtime import RuntimeOptions

from channels.base import Outcome, SendGate, SendItem, SendResult, held
from channels.sms_aliyun_outcomes import business, failure
from channels.templated import Filled

if TYPE_CHECKING:
    from channels.sms_aliyun import SmsAliyun

BATCH_OUT_ID = "batch:"  # OutId of a batch: not a delivery id
BY_NUMBER = "#"  # between a batch's BizId and a number (BizIds are digits and "^")
Entry = tuple[SendItem, str, Filled]


def batch_id(biz_id: str, phone: str) -> str:
    """Our id of one message of a batch: the batch's BizId and the (national) number."""
    return f"{biz_id}{BY_NUMBER}{phone}"


def biz_of(provider_id: str) -> str:
    """The BizId in one of our provider ids (a batch's message or a single SendSms)."""
    return provider_id.split(BY_NUMBER, 1)[0]


def chunks(entries: Sequence[Entry], size: int) -> list[list[Entry]]:
    """Entries grouped by template (a batch has one), in their order, `size` at most, each
    number once in a batch (its BizId and number name one message)."""
    batches: list[list[Entry]] = []
    open_batch: dict[str, list[Entry]] = {}
    for entry in entries:
        batch = open_batch.get(entry[2].code)
        if batch is None or len(batch) >= size or any(e[1] == entry[1] for e in batch):
            batch = open_batch[entry[2].code] = []
            batches.append(batch)
        batch.append(entry)
    return batches


async def send_batches(
    channel: SmsAliyun, items: Sequence[SendItem], gate: SendGate | None
) -> AsyncIterator[SendResult]:
    """Refusals at once, then each batch's results as its call answers."""
    entries: list[Entry] = []
    for item in items:
        prepared = channel.prepare(item)
        if isinstance(prepared, SendResult):
            yield prepared
        else:
            entries.append((item, *prepared))
    done: asyncio.Queue[list[SendResult]] = asyncio.Queue()

    async def one(chunk: list[Entry]) -> None:
        try:
            results = await _gated(channel, chunk, gate)
        except Exception as exc:  # a bug, not the provider: the fate is unknown all the same
            results = [
                SendResult(
                    e[0].key, Outcome.unknown, error_code="error", message=type(exc).__name__
                )
                for e in chunk
            ]
        done.put_nowait(results)

    tasks = [asyncio.ensure_future(one(c)) for c in chunks(entries, channel.settings.batch_size)]
    try:
        for _ in tasks:
            for result in await done.get():
                yield result
    finally:
        for task in tasks:
            task.cancel()


async def _gated(channel: SmsAliyun, chunk: list[Entry], gate: SendGate | None) -> list[SendResult]:
    async with channel.slots:
        wait = gate.allow() if gate is not None else 0.0
        if wait:
            return [held(item, wait) for item, _, _ in chunk]
        return await _send(channel, chunk)


async def _send(channel: SmsAliyun, chunk: list[Entry]) -> list[SendResult]:
    sign = channel.sign_name()
    request = models.SendBatchSmsRequest(
        phone_number_json=json.dumps([phone for _, phone, _ in chunk]),
        sign_name_json=json.dumps([sign] * len(chunk), ensure_ascii=False),
        template_code=chunk[0][2].code,
        template_param_json=json.dumps([f.params for _, _, f in chunk], ensure_ascii=False),
        out_id=f"{BATCH_OUT_ID}{chunk[0][0].key}",
    )

    def detail(filled: Filled) -> dict[str, Any]:
        return {"segments": filled.segments, "template": filled.code, "batch": len(chunk)}

    try:
        answer = await channel.client.send_batch_sms_with_options_async(request, RuntimeOptions())
    except Exception as exc:
        return [failure(item, exc, detail(filled)) for item, _, filled in chunk]
    body = answer.body
    code, biz_id = str(body.code or ""), str(body.biz_id or "")
    if code != "OK" or not biz_id:
        message = str(body.message or "")
        return [business(item, code or "no_code", message, detail(f)) for item, _, f in chunk]
    return [
        SendResult(
            item.key, Outcome.accepted, provider_id=batch_id(biz_id, phone), detail=detail(filled)
        )
        for item, phone, filled in chunk
    ]
