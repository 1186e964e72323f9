"""QuerySendDetails for Aliyun SMS of unknown fate: found by our id (OutId) on each day in
China since the attempt, or by Aliyun's BizId when we have it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from alibabacloud_dysmsapi20170525 import models
from darabonba.runtime import RuntimeOptions

from channels.base import ChannelError, LookupItem, LookupResult, ProviderState
from channels.sms_aliyun_batch import biz_of
from channels.sms_aliyun_hooks import MOBILE

CHINA = ZoneInfo("Asia/Shanghai")  # QuerySendDetails' SendDate is a date in China
PAGE = 50
SEND_STATES = {1: ProviderState.sent, 2: ProviderState.failed, 3: ProviderState.delivered}


async def look_up(client: Any, item: LookupItem) -> LookupResult:
    """QuerySendDetails on each day (in China) since the attempt; matched by our id
    (OutId), or by Aliyun's when we have it."""
    phone = MOBILE.match(item.address)
    if phone is None:
        return LookupResult(item.key, False)
    since = item.since if item.since.tzinfo else item.since.replace(tzinfo=dt.UTC)
    first = since.astimezone(CHINA).date()
    last = dt.datetime.now(CHINA).date()
    day = min(first, last)
    while day <= last:
        try:
            found = await _query(client, phone.group(1), day, item)
        except Exception:
            return LookupResult(item.key, None)
        if found is not None:
            return found
        day += dt.timedelta(days=1)
    return LookupResult(item.key, False)


async def _query(client: Any, phone: str, day: dt.date, item: LookupItem) -> LookupResult | None:
    page = 1
    while True:
        request = models.QuerySendDetailsRequest(
            phone_number=phone,
            send_date=day.strftime("%Y%m%d"),
            page_size=PAGE,
            current_page=page,
            biz_id=biz_of(item.provider_id) if item.provider_id else None,
        )
        answer = await client.query_send_details_with_options_async(request, RuntimeOptions())
        body = answer.body
        if str(body.code or "") != "OK":
            raise ChannelError(str(body.message or body.code), code=str(body.code))
        dtos = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
        for dto in dtos or []:  # with a BizId, the query found only ours (batches share one)
            if item.provider_id or str(dto.out_id or "") == str(item.key):
                return found(item, dto)
        if page * PAGE >= int(body.total_count or 0):
            return None
        page += 1


def found(item: LookupItem, dto: Any) -> LookupResult:
    """What QuerySendDetails says of our message. Its records carry no BizId: when we lack
    it (the SendSms answer was lost), only a final state is reported, under a stand-in id;
    a message still waiting for its receipt stays unknown until the receipt is pushed."""
    state = SEND_STATES.get(int(dto.send_status or 1), ProviderState.sent)
    code = str(dto.err_code or "failed")[:32] if state is ProviderState.failed else None
    provider_id = item.provider_id
    if provider_id is None:
        if state is ProviderState.sent:
            return LookupResult(item.key, True)
        provider_id = f"out:{item.key}"
    return LookupResult(item.key, True, provider_id, state, code)
