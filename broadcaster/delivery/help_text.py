"""The text of a help notice: which household asked for help, where it lives, how to call it."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient
from broadcaster.alerts.texts import NOTICE_HELP, render
from broadcaster.registry.models import Household, Proxy
from broadcaster.registry.service import phones_by_household
from broadcaster.settings import Settings

NO_PHONE = {"zh-CN": "无（代联系人：{}）", "en": "none (proxy: {})"}
NOBODY = {"zh-CN": "无", "en": "none"}


def household_details(
    session: Session, recipient_ids: Collection[int], language: str
) -> dict[int, dict[str, str]]:
    """By recipient: the household's head, address and phone numbers (its proxy contacts'
    when it has none) as the help notice's template variables."""
    rows = session.execute(
        select(Recipient.id, Household.id, Household.head_name, Household.address)
        .join(Household, Household.id == Recipient.household_id)
        .where(Recipient.id.in_(recipient_ids))
    ).all()
    households = [household_id for _r, household_id, _h, _a in rows]
    phones = phones_by_household(session, households)
    proxies: dict[int, list[str]] = {}
    for household_id, phone in session.execute(
        select(Proxy.household_id, Proxy.phone)
        .where(Proxy.household_id.in_(households))
        .order_by(Proxy.household_id, Proxy.position)
    ):
        proxies.setdefault(household_id, []).append(phone)
    found = {}
    for recipient_id, household_id, head, address in rows:
        own = phones.get(household_id)
        if own:
            phone = "、".join(own) if language == "zh-CN" else ", ".join(own)
        elif household_id in proxies:
            phone = NO_PHONE.get(language, NO_PHONE["zh-CN"]).format(proxies[household_id][0])
        else:
            phone = NOBODY.get(language, NOBODY["zh-CN"])
        found[recipient_id] = {"head_name": head, "address": address, "phone": phone}
    return found


def help_text(alert: Alert, settings: Settings, channel: str, details: dict[str, str]) -> str:
    """The help notice for one household, on `channel`, in the deployment's language."""
    return render(
        alert,
        channel=channel,
        language=settings.language,
        templates_dir=settings.config_dir / "templates",
        sender=settings.sender_name,
        notice=NOTICE_HELP,
        zone=settings.zone,
        **details,
    ).template
