"""Every Chinese string of the console's templates and labels has its English in the catalog."""

from __future__ import annotations

import re

from broadcaster.reports import audit_trail, export, labels
from broadcaster.web.console import common, report, timeline
from broadcaster.web.i18n import translations
from broadcaster.web.templating import TEMPLATES

CALL = re.compile(r'_\("((?:[^"\\]|\\.)*)"\)')
CAUSES = ("无可用联系方式", "已送达但未回复", "所有渠道均失败", "尚未送达", "未指定网格员")
EVENTS = (
    "首条消息交给服务商",
    "住户完成",
    "全部住户已完成",
    "升级：上门核实",
    "升级：改用渠道",
    "重点人群上门任务",
    "喇叭已播放",
    "首个求助",
    "户",
    "条发送已撤回",
    "个喇叭",
    "户求助",
)


def console_strings() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.glob("console*.html"):
        found.update(CALL.findall(path.read_text(encoding="utf-8")))
    tables = (common.LEVELS, common.HAZARDS, common.ALERT_STATES, common.RECIPIENT_STATES,
              common.channel_names(), common.VULNERABILITY, common.ROLE_NAMES, common.VIA,
              common.VISITS, timeline.ACTIONS, labels.DELIVERY_STATES, labels.ANSWERS,
              labels.CONFIRMED_BY, labels.VISIT_OUTCOMES, labels.TASK_STATES, labels.RELAY_STATES,
              labels.WORKER_ROLES, labels.PHONE_KINDS, labels.GROUP_KINDS, labels.ZONE_KINDS,
              labels.HAZARD_TYPES, labels.REVISION_KINDS, labels.SOURCES, labels.NOTICES,
              labels.EXPORT_PHONES, labels.ACTOR_KINDS, labels.SYSTEM_ACTORS,
              common.DUTY_POSTS, common.OPEN_KINDS, audit_trail.ACTION_NAMES,
              audit_trail.OBJECT_NAMES)  # fmt: skip
    for names in tables:
        found.update(names.values())
    found.update(CAUSES)
    found.update(EVENTS)
    # exports: column names, the report's sheets and figures, yes / no
    found.update(zh for _key, zh in export.HEADER)
    found.update(report.CHANNEL_COLUMNS)
    found.update((labels.DRILL_DONE, labels.YES, labels.NO, labels.NO_PHONE, timeline.EVACUATION))
    found.update((timeline.ASKED_AGAIN, "户已通知", labels.RESIDENT))
    found.update(REPORT_WORDS)
    return found


# The report's XLSX summary and sheet names (written in report.py).
REPORT_WORDS = ("预警", "标识", "演练", "级别", "状态", "发布", "全部完成", "目标户", "已完成户",
                "已确认", "求助", "已上门", "未完成户", "从未送达", "无联系方式",
                "首条发送用时（秒）", "50% 用时（秒）", "90% 用时（秒）", "100% 用时（秒）",
                "概要", "渠道", "上门", "数量", "需上门户", "确认方式", "未完成住户")  # fmt: skip


def test_every_console_string_is_translated() -> None:
    english = translations("en")
    missing = sorted(s for s in console_strings() if english.gettext(s) == s)
    assert missing == []
