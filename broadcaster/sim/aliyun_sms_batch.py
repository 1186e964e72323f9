"""SendBatchSms as the simulator reads it: up to 100 numbers, each with its own signature and
parameters, taken as the SendSms requests they amount to (one OutId for the whole batch)."""

from __future__ import annotations

import json
from typing import Any

from broadcaster.sim.aliyun_sms_records import Refused

MAX_BATCH = 100


def _array(params: dict[str, str], name: str) -> list[Any]:
    try:
        found = json.loads(params.get(name) or "[]")
    except ValueError:
        found = None
    if not isinstance(found, list):
        raise Refused("isv.INVALID_JSON_PARAM", f"JSON参数不合法 {name}")
    return found


def batch_requests(params: dict[str, str]) -> list[dict[str, str]]:
    """One SendSms-like request per number of a SendBatchSms, else its refusal."""
    for name in ("PhoneNumberJson", "SignNameJson", "TemplateCode"):
        if not params.get(name):
            raise Refused(f"Missing{name}", f"{name} is mandatory for this action.", 400)
    phones, signs = _array(params, "PhoneNumberJson"), _array(params, "SignNameJson")
    values = _array(params, "TemplateParamJson")
    if len(phones) > MAX_BATCH:
        raise Refused("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
    if len(signs) != len(phones) or (values and len(values) != len(phones)):
        raise Refused("isv.INVALID_PARAMETERS", "号码、签名与模板参数的数量不一致")
    if not all(isinstance(v, dict) for v in values):
        raise Refused("isv.INVALID_JSON_PARAM", "JSON参数不合法 TemplateParamJson")
    return [
        {
            "Action": "SendBatchSms",
            "PhoneNumbers": str(phone),
            "SignName": str(sign),
            "TemplateCode": params["TemplateCode"],
            "TemplateParam": json.dumps(values[n] if values else {}, ensure_ascii=False),
            **({"OutId": params["OutId"]} if params.get("OutId") else {}),
        }
        for n, (phone, sign) in enumerate(zip(phones, signs, strict=True))
    ]
