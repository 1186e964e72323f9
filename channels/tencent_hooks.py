"""Tencent Cloud SMS pushes parsed: status reports and residents' replies (JSON batches)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import phonenumbers

from channels.base import ProviderState
from channels.hooks import HookAnswer, HookRejected, HookRequest, Receipt, Reply

# What Tencent expects back from a push it may otherwise retry (twice).
ACK = json.dumps({"result": 0, "errmsg": "OK"})
JSON = "application/json"
BY_PROVIDER_ID = 0  # a receipt whose delivery is found by the provider's id (the sid)
CONTEXT_MAX = 512  # SessionContext's limit, in characters
REPORT_STATES = {"SUCCESS": ProviderState.delivered, "FAIL": ProviderState.failed}
SID_MAX = 64


def encode_ids(ids: Sequence[int]) -> str:
    """Our delivery ids as a SessionContext: runs of consecutive ids as ranges ("7-9,12")."""
    runs: list[str] = []
    ordered = sorted(set(ids))
    start = prev = ordered[0] if ordered else 0
    for current in [*ordered[1:], None]:
        if current is not None and current == prev + 1:
            prev = current
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if current is not None:
            start = prev = current
    return ",".join(runs) if ordered else ""


def decode_ids(context: str | None) -> list[int]:
    """The delivery ids a SessionContext names (none when it is not ours)."""
    found: list[int] = []
    for run in (context or "").split(","):
        first, _, last = run.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            return []
        low, high = int(first), int(last or first)
        if high < low or high - low > 10_000:
            return []
        found.extend(range(low, high + 1))
    return found


def e164(nationcode: str, mobile: str) -> str | None:
    """A pushed number in E.164 (Tencent sends the country code and the national number)."""
    raw = mobile if mobile.startswith("+") else f"+{nationcode or '86'}{mobile}"
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _entries(request: HookRequest) -> list[dict[str, Any]]:
    """The pushed JSON: an array of objects (or one object)."""
    try:
        data = json.loads(request.body or b"null")
    except ValueError as exc:
        raise HookRejected("推送不是 JSON / the push is not JSON") from exc
    entries = data if isinstance(data, list) else [data]
    if not all(isinstance(entry, dict) for entry in entries):
        raise HookRejected("推送应为 JSON 对象数组 / the push must be an array of objects")
    return entries


def status_push(request: HookRequest) -> HookAnswer:
    """A batch of status reports: each names its message by `sid` (the SerialNo), and by our
    delivery id in `ext` (the SessionContext) when the account echoes it for a one-number
    request; otherwise the delivery is found by its provider id."""
    receipts: list[Receipt] = []
    for entry in _entries(request):
        sid = str(entry.get("sid") or "")
        state = REPORT_STATES.get(str(entry.get("report_status") or "").upper())
        if not sid or len(sid) > SID_MAX or state is None:
            continue  # nothing we can place: acknowledged, not retried for ever
        ids = decode_ids(str(entry.get("ext") or ""))
        delivery_id = ids[0] if len(ids) == 1 else BY_PROVIDER_ID
        error = None if state is ProviderState.delivered else str(entry.get("errmsg") or "FAIL")
        receipts.append(Receipt(delivery_id, sid, state, error[:64] if error else None))
    return HookAnswer(receipts=receipts, body=ACK, media_type=JSON)


def reply_push(request: HookRequest) -> HookAnswer:
    """Residents' replies (mobile, nationcode, text, time, sign, extend); each gets an id made
    of what it says, so a push Tencent retries is recognised as the same reply."""
    replies: list[Reply] = []
    for entry in _entries(request):
        sender = e164(str(entry.get("nationcode") or ""), str(entry.get("mobile") or ""))
        if sender is None:
            raise HookRejected("回复号码无效 / bad reply number", field="mobile")
        text = str(entry.get("text") or "")
        seen = f"{sender}|{entry.get('time')}|{text}".encode()
        replies.append(Reply(f"tc-{hashlib.sha256(seen).hexdigest()[:40]}", sender, text))
    return HookAnswer(replies=replies, body=ACK, media_type=JSON)
