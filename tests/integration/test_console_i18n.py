"""Every Chinese string of the console's templates and labels has its English in the catalog."""

from __future__ import annotations

import re

from broadcaster.reports import audit_trail
from broadcaster.web.console import common, timeline
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
    labels = (common.LEVELS, common.HAZARDS, common.ALERT_STATES, common.RECIPIENT_STATES,
              common.channel_names(), common.VULNERABILITY, common.ROLE_NAMES, common.VIA,
              common.VISITS, common.DELIVERY_STATES, timeline.ACTIONS, common.DUTY_POSTS,
              common.OPEN_KINDS, audit_trail.ACTION_NAMES, audit_trail.OBJECT_NAMES)  # fmt: skip
    for names in labels:
        found.update(names.values())
    found.update(CAUSES)
    found.update(EVENTS)
    return found


def test_every_console_string_is_translated() -> None:
    english = translations("en")
    missing = sorted(s for s in console_strings() if english.gettext(s) == s)
    assert missing == []
