"""What people read for each code: states, channels, roles, answers, kinds — in Chinese (the
source language; the console and exports translate them through the gettext catalog)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from broadcaster.registry.importer.values import VULNERABILITY_LABELS
from channels.base import Reach
from channels.registry import media

Translate = Callable[[str], str]

LEVELS = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
HAZARDS = {
    "rain": "暴雨",
    "water_level": "水位",
    "flood": "洪水",
    "drought": "干旱",
    "geohazard": "地质灾害",
    "other": "其他",
}
ALERT_STATES = {
    "draft": "草稿",
    "pending_approval": "待审批",
    "sending": "发送中",
    "active": "进行中",
    "closed": "已解除",
    "cancelled": "已取消",
    "expired": "已过期",
}
DRILL_DONE = "演练已完成"  # a drill whose every household is final: no longer in progress
RECIPIENT_STATES = {
    "pending": "待送达",
    "reached": "已送达未确认",
    "confirmed": "已确认",
    "needs_help": "求助",
    "unreachable": "无法送达",
    "visited": "已上门",
    "released": "不再涉及",
    "unconfirmed": "未确认（全部）",
}
DELIVERY_STATES = {
    "queued": "排队中",
    "sending": "发送中",
    "sent": "已发出",
    "delivered": "已送达",
    "failed": "失败",
    "unknown": "状态未知",
    "cancelled": "已撤回",
    "superseded": "未送出，已重发",
}
VIA = {
    "sms_reply": "短信回复",
    "keypress": "电话按键",
    "link": "点击链接",
    "visit": "上门核实",
    "operator": "值班员代录",
}
ANSWERS = {"safe": "平安", "needs_help": "需要帮助", "evacuated": "已转移"}
CONFIRMED_BY = {"member": "本户成员", "proxy": "代联系人"}
VISITS = {
    "open": "待上门",
    "in_progress": "上门中",
    "done": "已上门",
    "unable": "未能核实",
    "cancelled": "已取消",
}
VISIT_OUTCOMES = {
    "safe": "平安",
    "evacuated": "已转移",
    "needs_help": "需要帮助",
    "not_home": "不在家",
    "refused": "拒绝",
    "address_invalid": "地址有误",
}
TASK_STATES = {"open": "待播放", "played": "已播放", "cancelled": "已取消"}
RELAY_STATES = {
    "open": "待转发",
    "forwarded": "已转发",
    "escalated": "已上报",
    "cancelled": "已取消",
}
SOURCES = {"officer": "值班员发布", "feed": "自动数据源"}
ROLE_NAMES = {
    "admin": "管理员",
    "officer": "值班员",
    "feed": "自动数据源",
    "operator": "喇叭操作员",
    "field": "网格员",
}
WORKER_ROLES = {"field": "网格员", "lead": "村（社区）负责人", "operator": "喇叭操作员",
                "officer": "值班员"}  # fmt: skip
PHONE_KINDS = {"mobile": "手机", "landline": "固定电话"}
GROUP_KINDS = {"wecom": "企业微信群", "wechat": "微信群", "qq": "QQ群"}
ZONE_KINDS = {
    "district": "区县",
    "township": "乡镇（街道）",
    "village": "村（社区）",
    "grid": "网格",
    "hazard": "风险区",
}
HAZARD_TYPES = {
    "flash_flood": "山洪",
    "riverside_lowland": "沿河低洼",
    "waterlogging": "易涝",
    "geohazard": "地质灾害",
    "drought": "干旱",
}
REVISION_KINDS = {"alert": "发布", "update": "更新", "all_clear": "解除", "cancel": "撤销"}
VULNERABILITY = dict(VULNERABILITY_LABELS)
EXPORT_PHONES = {"masked": "号码已遮蔽", "full": "完整号码"}
ACTOR_KINDS = {"link": "链接", "poll": "订阅源", "key": "接口密钥"}
RESIDENT = "住户"  # an answer from a resident's phone (an SMS reply)
SYSTEM_ACTORS = {"system": "系统", "rules": "传感器规则"}
YES, NO = "是", "否"
NO_PHONE = "无电话"  # a household none of whose members has a phone (proxies or a visit)
NOTICES = {
    "all_clear": "解除通知",
    "cancel": "撤销通知",
    "released": "范围调整通知",
    "ack_safe": "平安确认回执",
    "ack_help": "求助回执",
    "help": "求助通知（包保责任人、片区负责人）",
}


BREAKER_STATES = {
    "closed": "正常",
    "open": "已暂停（连续出错）",
    "half_open": "试探恢复中",
}
# Why a queued delivery waits (its error code): it goes by itself when the wait is over.
WAITING_REASONS = {
    "number_limit": "每号码发送限额已满，到时自动发送",
    "rate_limited": "服务商限速，稍后自动发送",
    "circuit_open": "服务商暂停（连续出错），稍后自动发送",
}


class Sent(NamedTuple):
    """A household's messages on one channel in one state (a notice, or the warning)."""

    channel: str
    notice: str | None
    state: str
    times: int


def channel_names() -> dict[str, str]:
    """The installed media's labels, in the order of the addresses they reach."""
    order = list(Reach)
    ranked = sorted(
        media().items(), key=lambda kv: (order.index(kv[1].capabilities.addresses), kv[0])
    )
    return {name: cls.label or name for name, cls in ranked}


def name(table: Mapping[str, str], code: object, translate: Translate = str) -> str:
    """The label of a code (an enum or its value) in `table`, translated; the code itself
    only when the table does not know it (a third-party channel without a label)."""
    value = str(getattr(code, "value", code) or "")
    return translate(table[value]) if value in table else value


def actor_name(raw: str | None, translate: Translate = str) -> str:
    """Who acted, as a person reads it: "user:wang/key:7" → wang, a resident's phone → 住户
    138****8000, "rules" → 传感器规则."""
    if not raw:
        return ""
    if raw in SYSTEM_ACTORS:
        return translate(SYSTEM_ACTORS[raw])
    kind, _, rest = raw.partition(":")
    if kind == "user" and rest:
        return rest.split("/key:", 1)[0]
    if kind in ACTOR_KINDS and rest:
        return f"{translate(ACTOR_KINDS[kind])} {rest}"
    if rest.startswith("+"):
        return f"{translate(RESIDENT)} {mask_phone(rest)}"
    return raw


def mask_phone(phone: str) -> str:
    """+8613812348000 → 138****8000: enough to recognise, not enough to call."""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def sent_text(sent: Sent, translate: Translate = str) -> str:
    """短信·已送达, 短信（解除通知）·排队中×2."""
    channel = name(channel_names(), sent.channel, translate)
    if sent.notice:
        channel += f"（{name(NOTICES, sent.notice, translate)}）"
    times = f"×{sent.times}" if sent.times > 1 else ""
    return f"{channel}·{name(DELIVERY_STATES, sent.state, translate)}{times}"


def visit_text(visit: tuple[str, str | None], translate: Translate = str) -> str:
    """已上门·平安, 待上门."""
    state, outcome = visit
    text = name(VISITS, state, translate)
    return f"{text}·{name(VISIT_OUTCOMES, outcome, translate)}" if outcome else text
