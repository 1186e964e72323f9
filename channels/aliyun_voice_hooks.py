"""Aliyun voice pushes parsed: call reports become receipts, key reports key presses."""

from __future__ import annotations

import json
from typing import Any

from channels.base import ProviderState
from channels.hooks import HookAnswer, HookRejected, HookRequest, KeyPress, Receipt

VOICE_REPORT = "voice_report"  # /hooks/aliyun/voice_report: the call's end (VoiceReport)
IVR_REPORT = "ivr_report"  # /hooks/aliyun/ivr_report: during the call (VoiceCallReport)
RECEIVED = json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False)
JSON = "application/json"
CALL_ID_MAX = 64  # our provider_id column's width
MAX_ENTRIES = 1000
KEYS = frozenset("0123456789*#")

# Carriers' call results (呼叫状态码): answered ones deliver, the rest fail with their code.
ANSWERED = {
    "200000": "用户听完语音",
    "200001": "用户提前挂机",
    "200008": "获取按键超时",
}
UNANSWERED = {
    "200002": "用户占线 / busy",
    "200003": "未接听 / no answer",
    "200004": "号码不合法 / invalid number",
    "200005": "无法接通 / rejected",
    "200006": "语音播放失败 / playback failed",
    "200007": "不在服务区 / unreachable",
    "200010": "关机 / switched off",
    "200011": "停机 / suspended",
}


def call_state(status_code: str) -> tuple[ProviderState, str | None] | None:
    """Our state and error code for a carrier's call result; None for an interim status."""
    if status_code in ANSWERED:
        return ProviderState.delivered, None
    if status_code.startswith("2000") or status_code in UNANSWERED:
        return ProviderState.failed, status_code
    return None


def _entries(request: HookRequest) -> list[dict[str, Any]]:
    try:
        data = json.loads(request.body or b"null")
    except ValueError as exc:
        raise HookRejected(f"推送不是 JSON / the push is not JSON: {exc}") from exc
    if isinstance(data, dict):  # a single report, as some subscriptions send
        data = [data]
    if not isinstance(data, list) or len(data) > MAX_ENTRIES:
        raise HookRejected(f"推送应为 JSON 数组 / the push must be a JSON array (≤ {MAX_ENTRIES})")
    return [entry for entry in data if isinstance(entry, dict)]


def _ours(entry: dict[str, Any]) -> tuple[int, str] | None:
    """Our delivery id (the OutId we sent) and Aliyun's call id; None for a call not ours."""
    out_id, call_id = str(entry.get("out_id") or ""), str(entry.get("call_id") or "")
    if not out_id.isdigit() or not call_id or len(call_id) > CALL_ID_MAX:
        return None
    return int(out_id), call_id


def _keys(delivery_id: int, call_id: str, dtmf: object) -> list[KeyPress]:
    return [KeyPress(delivery_id, digit, call_id) for digit in str(dtmf or "") if digit in KEYS]


def voice_report(request: HookRequest) -> HookAnswer:
    """Call reports: answered → delivered, busy/no answer/off… → failed with the code; the
    keys the report lists are applied too (a key already applied is not applied twice)."""
    receipts: list[Receipt] = []
    keys: list[KeyPress] = []
    for entry in _entries(request):
        ours = _ours(entry)
        found = call_state(str(entry.get("status_code") or ""))
        if ours is None or found is None:
            continue
        receipts.append(Receipt(ours[0], ours[1], *found))
        keys.extend(_keys(*ours, entry.get("dtmf")))
    return HookAnswer(receipts=receipts, keys=keys, body=RECEIVED, media_type=JSON)


def ivr_report(request: HookRequest) -> HookAnswer:
    """Key reports during calls: each key pressed, for the calls flow (1 safe, 2 help)."""
    keys: list[KeyPress] = []
    for entry in _entries(request):
        ours = _ours(entry)
        if ours is not None and entry.get("dtmf"):
            keys.extend(_keys(*ours, entry.get("dtmf")))
    return HookAnswer(keys=keys, body=RECEIVED, media_type=JSON)
