"""What the `relay` channel sends: an SMS to a group's owner (or zone lead) with a relay link."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert
from broadcaster.alerts.texts import _names, render
from broadcaster.delivery.ledger import Claimed
from broadcaster.registry.models import Group, GroupKind
from broadcaster.relay.models import RelayTask
from broadcaster.relay.tokens import PHONE_HOLDER, make_relay_token
from broadcaster.settings import Settings
from channels.base import SendItem
from channels.templated import KIND_RELAY

if TYPE_CHECKING:
    from broadcaster.delivery.items import ItemContext

KIND_NAMES = {GroupKind.wechat: "微信群", GroupKind.qq: "QQ群", GroupKind.wecom: "企业微信群"}


def relay_token(settings: Settings, task_id: int, holder: int) -> str:
    return make_relay_token(settings.secret_key.get_secret_value().encode(), task_id, holder)


def sms_text(alert: Alert, settings: Settings, group: Group, link: str, *, lead: bool) -> str:
    """The owner's (or, once overdue, the zone lead's) SMS: which group, and the link.

    In the deployment's language only, like the households' SMS (the page is bilingual):
    an English tail would cost a third UCS-2 segment per owner."""
    language = "en" if settings.language == "en" else "zh-CN"
    names = _names(settings.config_dir / "templates")[language]
    level, hazard = names["level"][alert.level.value], names["hazard"][alert.hazard.value]
    if language == "en":
        drill = "[DRILL] " if alert.is_drill else ""
        where = f'{group.kind.value} group "{group.name}"'
        if lead:
            ask = f"{level} {hazard} warning not relayed to {where} in time: forward it or call "
            return f"{drill}[{settings.sender_name}] {ask}the owner, then tap forwarded: {link}"
        ask = f"please relay the {level} {hazard} warning to your {where}, then tap forwarded"
        return f"{drill}[{settings.sender_name}] {ask}: {link}"
    drill = "【演练】" if alert.is_drill else ""
    where = f"{KIND_NAMES.get(group.kind, '群')}「{group.name}」"
    warning = f"{level}{hazard}预警"
    if lead:
        ask = f"{where}的{warning}超时未转发，请您转发或督促群主，转发后点“已转发”：{link}"
    else:
        ask = f"请将{warning}转发到您的{where}，转发后点“已转发”：{link}"
    return f"{drill}【{settings.sender_name}】{ask}"


def relay_items(session: Session, ctx: ItemContext, claimed: list[Claimed]) -> list[SendItem]:
    """One SMS per relay delivery; a delivery whose task is gone gets no item (recorded as
    failed by the send job)."""
    group_ids = [c.group_id for c in claimed if c.group_id]
    tasks = {
        t.group_id: t
        for t in session.scalars(
            select(RelayTask).where(
                RelayTask.alert_id == ctx.alert.id, RelayTask.group_id.in_(group_ids)
            )
        )
    }
    groups = {g.id: g for g in session.scalars(select(Group).where(Group.id.in_(group_ids)))}
    items = []
    for c in claimed:
        task, group = tasks.get(c.group_id or 0), groups.get(c.group_id or 0)
        if task is None or group is None:
            continue
        if c.notice is not None:  # the all-clear or a cancel, to paste into the group
            items.append(notice_item(ctx, c, group))
            continue
        lead = c.id == task.lead_delivery_id and task.escalated_to_worker_id is not None
        if lead:
            holder = task.escalated_to_worker_id or PHONE_HOLDER
        else:
            holder = task.owner_worker_id if task.owner_worker_id is not None else PHONE_HOLDER
        token = relay_token(ctx.settings, task.id, holder)
        link = ctx.settings.public_url(f"/relay/{token}")
        items.append(
            SendItem(
                key=c.id,
                address=c.address,
                body=sms_text(ctx.alert, ctx.settings, group, link, lead=lead),
                callback_url=ctx.callback(c),
                extra=ctx.hook_extra(c),
                message=ctx.message(
                    None, kind=KIND_RELAY, group=group_label(group), token=token, link=link
                ),
            )
        )
    return items


def notice_item(ctx: ItemContext, claimed: Claimed, group: Group) -> SendItem:
    """A notice (all-clear, cancel) for a group's holder: the text to paste, and the public
    page (the relay link is closed once the alert has ended)."""
    text = render(
        ctx.alert,
        channel=ctx.channel,
        language=ctx.settings.language,
        templates_dir=ctx.settings.config_dir / "templates",
        sender=ctx.settings.sender_name,
        notice=claimed.notice,
        zone=ctx.settings.zone,
        note=ctx.notes.get(claimed.notice or "", ""),
        group_name=group_label(group),
    )
    link = ctx.public_link()
    return SendItem(
        key=claimed.id,
        address=claimed.address,
        body=text.personal(link),
        callback_url=ctx.callback(claimed),
        extra=ctx.hook_extra(claimed),
        message=ctx.message(claimed.notice, group=group_label(group), link=link),
    )


def group_label(group: Group) -> str:
    """The group as the texts name it: 微信群「三组」."""
    return f"{KIND_NAMES.get(group.kind, '群')}「{group.name}」"
