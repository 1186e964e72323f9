"""What the simulated Aliyun SMS account keeps: each number of each accepted SendSms, refusals,
per-number send windows."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
MOBILE = re.compile(r"^(?:\+86|0086|86)?(1[3-9]\d{9})$")


@dataclass(slots=True)
class Sms:
    """One number of one accepted SendSms: the request's fields and what became of it."""

    biz_id: str
    phone_number: str
    fields: dict[str, str]
    text: str
    sms_size: int
    sign_name: str
    access_key_id: str
    send_time: dt.datetime
    status: int = 1  # QuerySendDetails' SendStatus: 1 waiting for the receipt, 2 failed, 3 ok
    err_code: str = ""
    report_time: dt.datetime | None = None
    fault: str | None = None

    def listed(self) -> dict[str, Any]:
        return {
            **self.fields,
            "phone_number": self.phone_number,
            "BizId": self.biz_id,
            "text": self.text,
            "sms_size": self.sms_size,
            "access_key_id": self.access_key_id,
            "send_time": stamp(self.send_time),
            "status": {1: "sent", 2: "failed", 3: "delivered"}[self.status],
            "err_code": self.err_code,
            "report_time": stamp(self.report_time) if self.report_time else None,
            "fault": self.fault,
        }


def stamp(at: dt.datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def sms_size(text: str) -> int:
    return 1 if len(text) <= 70 else -(-len(text) // 67)


@dataclass
class Account:
    """What the simulated account has sent and refused."""

    sms: deque[Sms] = field(default_factory=deque)
    refused: deque[dict[str, Any]] = field(default_factory=deque)
    windows: dict[tuple[str, str], deque[float]] = field(default_factory=dict)


class Refused(Exception):
    """A business refusal: HTTP 200 with Aliyun's code (or a gateway error with `status`)."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.message, self.status = code, message, status
