"""Aliyun SMS pushes parsed: SmsReport receipts and SmsUp replies, JSON arrays answered
{"code":0}. They carry no signature: the channel checks a secret token and source address."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from channels.base import ProviderState
from channels.hooks import HookAnswer, HookRejected, HookRequest, Receipt, Reply
from channels.sms_aliyun_batch import BATCH_OUT_ID, batch_id

log = logging.getLogger(__name__)
JSON = "application/json"
ACKNOWLEDGED = json.dumps({"code": 0, "msg": "成功"}, ensure_ascii=False, separators=(",", ":"))
MOBILE = re.compile(r"^(?:\+86|0086|86)?(1[3-9]\d{9})$")
ID_MAX = 64  # our provider-id columns' width


def _entries(request: HookRequest) -> list[dict[str, Any]]:
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HookRejected("推送不是 JSON / the push is not JSON") from exc
    if isinstance(data, dict):  # a single object: accepted as a batch of one
        data = [data]
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise HookRejected("推送应为 JSON 数组 / the push must be a JSON array of objects")
    return data


def e164(phone: object) -> str:
    """A mainland mobile number as E.164, or '' when it is none."""
    found = MOBILE.match(str(phone or "").strip())
    return f"+86{found.group(1)}" if found else ""


def sms_report(request: HookRequest) -> HookAnswer:
    """Receipts of our messages: out_id is our delivery id, or names a batch (SendBatchSms)
    whose messages are known by its BizId and number; entries of messages we did not send
    are skipped."""
    receipts = []
    for entry in _entries(request):
        out_id, biz_id = str(entry.get("out_id") or ""), str(entry.get("biz_id") or "")
        phone = MOBILE.match(str(entry.get("phone_number") or "").strip())
        if out_id.startswith(BATCH_OUT_ID) and phone is not None:
            out_id, biz_id = "0", batch_id(biz_id, phone.group(1))  # matched by our id of it
        if not out_id.isdigit() or not biz_id or len(biz_id) > ID_MAX:
            continue
        success = entry.get("success")
        ok = success is True or str(success).lower() == "true"
        state = ProviderState.delivered if ok else ProviderState.failed
        code = None if ok else str(entry.get("err_code") or "failed")[:32]
        receipts.append(Receipt(int(out_id), biz_id, state, code))
    return HookAnswer(receipts=receipts, body=ACKNOWLEDGED, media_type=JSON)


def sms_up(request: HookRequest) -> HookAnswer:
    """Residents' messages to our signature's number. An entry without a mainland number or a
    sequence id cannot be anyone's reply: it is skipped (logged), the others are kept — a
    refused push would be pushed again whole, good replies with it."""
    replies = []
    for entry in _entries(request):
        sender = e164(entry.get("phone_number"))
        sequence = str(entry.get("sequence_id") or "")
        if not sender or not sequence:
            log.warning("SmsUp entry without phone_number or sequence_id skipped")
            continue
        provider_id = f"aliyun-up:{sequence}"[:ID_MAX]
        replies.append(Reply(provider_id, sender, str(entry.get("content") or "")))
    return HookAnswer(replies=replies, body=ACKNOWLEDGED, media_type=JSON)
