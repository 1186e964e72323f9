"""What each channel is handed: send items built from leased deliveries and the alert."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.alerts.models import Alert, Recipient, RecipientState
from broadcaster.alerts.texts import (
    NOTICE_HELP,
    MessageText,
    message_kind,
    message_values,
    render,
)
from broadcaster.alerts.tokens import make_token
from broadcaster.alerts.visibility import audio_url, public_url
from broadcaster.delivery.help_text import help_text, household_details
from broadcaster.delivery.ledger import Claimed
from broadcaster.registry.models import Group, Household, Loudspeaker, Person, PhoneKind
from broadcaster.settings import Settings
from channels.base import SPEAKER_FIELD, Message, SendItem, TextForm
from channels.hooks import CALLBACK, DELIVERY_PARAM
from channels.registry import ChannelClass
from channels.templated import KIND_HELP_NOTICE, KIND_PROXY

MAX_MENTIONS = 100  # a robot post @-mentions at most this many unconfirmed households


def hook_urls(settings: Settings, provider: ChannelClass) -> dict[str, str]:
    """By item field, the URL (up to our delivery id) of each per-delivery hook the
    provider declares: where it reports statuses, where a call fetches its document."""
    return {
        hook.item_field: settings.public_url(f"/hooks/{provider.provider}/{kind}")
        + f"?{DELIVERY_PARAM}="
        for kind, hook in provider.hooks.items()
        if hook.item_field
    }


@dataclass(frozen=True)
class ItemContext:
    """Everything builders share for one batch; `hooks` from `hook_urls` of its provider."""

    settings: Settings
    alert: Alert
    channel: str  # the batch's medium (or a text form: a page showing that form's text)
    hooks: Mapping[str, str] = field(default_factory=dict)
    # The officer's words with a closing notice, by notice (loaded when a batch carries one).
    notes: dict[str, str] = field(default_factory=dict)
    _texts: dict[tuple[str, str | None], MessageText] = field(default_factory=dict)
    _values: dict[str | None, dict[str, str]] = field(default_factory=dict)

    def text(self, template: str | None = None, notice: str | None = None) -> MessageText:
        """The channel's (or `template`'s) text of the warning or of a delivery's notice,
        rendered once per batch."""
        key = (template or self.channel, notice)
        if key not in self._texts:
            self._texts[key] = render(
                self.alert,
                channel=key[0],
                language=self.settings.language,
                templates_dir=self.settings.config_dir / "templates",
                sender=self.settings.sender_name,
                notice=notice,
                zone=self.settings.zone,
                note=self.notes.get(notice or "", ""),
            )
        return self._texts[key]

    def message(
        self, notice: str | None = None, *, kind: str | None = None, **values: str
    ) -> Message:
        """What a delivery's text says, for providers that send approved templates: the kind
        (the notice's or the alert's unless given), the alert's hazard and level, its values
        and the delivery's own (`values`)."""
        if notice not in self._values:  # once per batch
            self._values[notice] = message_values(
                self.alert,
                language=self.settings.language,
                templates_dir=self.settings.config_dir / "templates",
                sender=self.settings.sender_name,
                zone=self.settings.zone,
                note=self.notes.get(notice or "", ""),
            )
        return Message(
            kind=kind or message_kind(self.alert, notice),
            hazard=self.alert.hazard.value,
            level=self.alert.level.value,
            values={**self._values[notice], **values},
            drill=self.alert.is_drill,
        )

    def personal_message(self, claimed: Claimed) -> Message:
        """A person's message: with their confirmation token and link."""
        return self.message(
            claimed.notice, token=self.token(claimed), link=self.personal_link(claimed)
        )

    def token(self, claimed: Claimed) -> str:
        secret = self.settings.secret_key.get_secret_value().encode()
        return make_token(secret, self.alert.id, claimed.person_id or 0)

    def personal_link(self, claimed: Claimed) -> str:
        return self.settings.public_url(f"/c/{self.token(claimed)}")

    def public_link(self) -> str:
        return public_url(self.settings, self.alert)

    def callback(self, claimed: Claimed) -> str | None:
        """The provider's status callback URL for this delivery, if it reports statuses."""
        prefix = self.hooks.get(CALLBACK)
        return f"{prefix}{claimed.id}" if prefix else None

    def hook_extra(self, claimed: Claimed) -> dict[str, str]:
        """The provider's other per-delivery hook URLs, as the item's extra fields."""
        return {name: f"{url}{claimed.id}" for name, url in self.hooks.items() if name != CALLBACK}


Builder = Callable[[Session, ItemContext, list[Claimed]], list[SendItem]]


def sms_items(session: Session, ctx: ItemContext, claimed: list[Claimed]) -> list[SendItem]:
    """The text with the member's own link; a proxy contact (no member) gets the alert's
    public page, a worker told of a call for help the household's details instead."""
    details = help_details(session, ctx, claimed)
    items = []
    for c in claimed:
        if c.notice == NOTICE_HELP:
            if c.recipient_id not in details:
                continue  # the household is gone: the job records a failure
            body = help_text(ctx.alert, ctx.settings, ctx.channel, details[c.recipient_id])
        else:
            link = ctx.personal_link(c) if c.person_id else ctx.public_link()
            body = ctx.text(notice=c.notice).personal(link)
        items.append(
            SendItem(
                key=c.id,
                address=c.address,
                body=body,
                callback_url=ctx.callback(c),
                extra={**ctx.hook_extra(c), "token": ctx.token(c)},
                message=item_message(ctx, c, details),
            )
        )
    return items


def help_details(
    session: Session, ctx: ItemContext, claimed: list[Claimed]
) -> dict[int, dict[str, str]]:
    """By recipient, the household details the batch's help notices and texts to proxy
    contacts name (none of them: no query)."""
    named = [
        c.recipient_id
        for c in claimed
        if c.recipient_id and (c.notice == NOTICE_HELP or c.person_id is None)
    ]
    return household_details(session, named, ctx.settings.language) if named else {}


def item_message(ctx: ItemContext, claimed: Claimed, details: dict[int, dict[str, str]]) -> Message:
    """What a person's text or call says: a help notice names the household; a proxy (no
    member) is sent the public page, a member their own link."""
    if claimed.notice == NOTICE_HELP:
        household = details.get(claimed.recipient_id or 0, {})
        return ctx.message(
            None,
            kind=KIND_HELP_NOTICE,
            head=household.get("head_name", ""),
            address=household.get("address", ""),
            phone=household.get("phone", ""),
        )
    if claimed.person_id is None:  # a proxy: the public page, no personal token
        link = ctx.public_link()
        page = link.rsplit("/public/alerts/", 1)[-1]
        kind = None if claimed.notice else KIND_PROXY
        head = details.get(claimed.recipient_id or 0, {}).get("head_name", "")
        return ctx.message(claimed.notice, kind=kind, head=head, page=page, link=link)
    return ctx.personal_message(claimed)


def email_items(_session: Session, ctx: ItemContext, claimed: list[Claimed]) -> list[SendItem]:
    return [
        SendItem(
            key=c.id,
            address=c.address,
            body=ctx.text(notice=c.notice).personal(ctx.personal_link(c)),
            callback_url=ctx.callback(c),
            extra={
                **ctx.hook_extra(c),
                "subject": ctx.text(TextForm.letter_subject, c.notice).template,
                "token": ctx.token(c),
            },
        )
        for c in claimed
    ]


def voice_items(session: Session, ctx: ItemContext, claimed: list[Claimed]) -> list[SendItem]:
    """Calls carry no text: the provider fetches what to say from its call hook (providers
    that place template calls take the item's message)."""
    details = help_details(session, ctx, claimed)
    return [
        SendItem(
            key=c.id,
            address=c.address,
            body="",
            callback_url=ctx.callback(c),
            extra={**ctx.hook_extra(c), "token": ctx.token(c)},
            message=item_message(ctx, c, details),
        )
        for c in claimed
    ]


def wecom_items(session: Session, ctx: ItemContext, claimed: list[Claimed]) -> list[SendItem]:
    """One post per robot: the group text with the public link, @-mentioning the mobiles of
    the group's households that have not confirmed yet."""
    groups = {
        g.id: g
        for g in session.scalars(
            select(Group).where(Group.id.in_([c.group_id for c in claimed if c.group_id]))
        )
    }
    items = []
    for c in claimed:
        group = groups.get(c.group_id or 0)
        if group is None or not group.webhook_key:
            continue  # the group lost its robot since planning: the job records a failure
        mentions = [] if c.notice else _unconfirmed_mobiles(session, ctx.alert.id, group.id)
        items.append(
            SendItem(
                key=c.id,
                address=group.webhook_key,
                body=ctx.text(notice=c.notice).personal(ctx.public_link()),
                callback_url=ctx.callback(c),
                extra={**ctx.hook_extra(c), "mentioned_mobile_list": mentions},
            )
        )
    return items


def _unconfirmed_mobiles(session: Session, alert_id: int, group_id: int) -> list[str]:
    rows = session.scalars(
        select(Person.phone)
        .join(Household, Household.id == Person.household_id)
        .join(Recipient, Recipient.household_id == Household.id)
        .where(
            Household.group_id == group_id,
            Recipient.alert_id == alert_id,
            Recipient.state.in_((RecipientState.pending, RecipientState.reached)),
            Person.active.is_(True),
            Person.phone_kind == PhoneKind.mobile,
        )
        .order_by(Recipient.priority, Person.id)
        .limit(MAX_MENTIONS)
    )
    return [phone for phone in rows if phone]


def loudspeaker_items(session: Session, ctx: ItemContext, claimed: list[Claimed]) -> list[SendItem]:
    """The loudspeaker's push endpoint (if any) and where its audio file can be fetched."""
    speakers = {
        s.id: s
        for s in session.scalars(
            select(Loudspeaker).where(
                Loudspeaker.id.in_([c.loudspeaker_id for c in claimed if c.loudspeaker_id])
            )
        )
    }
    audio = audio_url(ctx.settings, ctx.alert)
    return [
        SendItem(
            key=c.id,
            address=(speakers[c.loudspeaker_id].endpoint_url or "")
            if c.loudspeaker_id in speakers
            else "",
            body=ctx.text(notice=c.notice).template,
            callback_url=ctx.callback(c),
            extra={**ctx.hook_extra(c), "audio_url": audio, SPEAKER_FIELD: c.address},
        )
        for c in claimed
    ]
