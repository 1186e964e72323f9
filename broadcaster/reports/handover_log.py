"""The handover log (交接班记录) as table rows: who, when, the notes and the open items."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from broadcaster.registry.roster import HandoverRow
from broadcaster.reports.export import local_time

KINDS = (
    ("alerts_in_progress", "进行中预警"),
    ("approvals_waiting", "待审批预警"),
    ("help_open", "待处理求助"),
    ("speakers_unplayed", "未播放喇叭"),
    ("relay_escalated", "群转发超时"),
    ("visits_open", "待上门"),
    ("visits_flagged", "超时上门"),
)
HEADER = [
    "编号 id",
    "交班时间 handed_over_at",
    "交班人 from",
    "指定接班人 to",
    "接班确认时间 acknowledged_at",
    "接班人 acknowledged_by",
    "交班说明 note",
    "接班说明 ack_note",
    *(f"{zh} {key}" for key, zh in KINDS),
    "明细 items",
]
MAX_DETAIL = 2000


def _who(user: Any) -> str:
    return f"{user.display_name or user.username}（{user.username}）" if user is not None else ""


def _item(kind: str, item: dict[str, Any]) -> str:
    if kind in ("alerts_in_progress", "approvals_waiting"):
        return f"#{item.get('id')} {item.get('headline', '')}"
    if kind == "speakers_unplayed":
        return f"#{item.get('alert_id')} {item.get('speaker', '')}"
    if kind == "relay_escalated":
        return f"#{item.get('alert_id')} {item.get('group', '')}"
    return f"#{item.get('alert_id')} {item.get('head_name', '')}({item.get('household_code', '')})"


def detail(items: dict[str, list[dict[str, Any]]]) -> str:
    """The listed items in one cell: 进行中预警：#3 暴雨红色预警；待处理求助：…"""
    parts = [
        f"{zh}：" + "、".join(_item(key, i) for i in items.get(key, []))
        for key, zh in KINDS
        if items.get(key)
    ]
    return "；".join(parts)[:MAX_DETAIL]


def log_rows(rows: Iterable[HandoverRow]) -> Iterator[list[str]]:
    for row in rows:
        h = row.handover
        counts = h.items.get("counts", {})
        yield [
            str(h.id),
            local_time(h.created_at),
            _who(row.giver),
            _who(row.named),
            local_time(h.acknowledged_at),
            _who(row.taker),
            h.note,
            h.ack_note,
            *(str(counts.get(key, 0)) for key, _zh in KINDS),
            detail(h.items.get("items", {})),
        ]
