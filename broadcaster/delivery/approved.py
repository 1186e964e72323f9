"""Approved templates in the core: what each template-only provider of a medium will send."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from broadcaster.alerts.models import Alert
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.schemas import TemplatePreview
from broadcaster.alerts.texts import message_kind, message_values
from broadcaster.alerts.tokens import make_token
from broadcaster.delivery.channel_config import deployment
from broadcaster.delivery.providers import configured_providers
from broadcaster.errors import ValidationFailed
from broadcaster.settings import Settings
from channels.base import ChannelError, Message
from channels.registry import ChannelClass
from channels.templated import TemplateBook, TemplateRefused

SAMPLE_IDS = (987_654, 9_876_543)  # a long token, so lengths are not optimistic


def media_of(alert: Alert) -> list[str]:
    """The media an alert may use: its own and its escalation steps'."""
    steps = [step.channel for step in parse_policy(alert.policy).steps if step.channel]
    return list(dict.fromkeys([*alert.channels, *steps]))


def template_books(
    media: Iterable[str], settings: Settings
) -> Iterator[tuple[str, ChannelClass, TemplateBook]]:
    """(medium, provider class, its book) for each configured provider that sends approved
    templates only; a medium whose providers are not installed is left to sending to report."""
    where = deployment(settings, drill=False)
    for medium in dict.fromkeys(media):
        try:
            providers = configured_providers(medium, settings)
        except ChannelError:
            continue
        for cls in providers:
            try:
                book = cls.template_book(where)
            except ChannelError as exc:  # a broken book: nothing could be sent by it
                raise ValidationFailed(exc.message, field="templates", provider=cls.name) from exc
            if book is not None:
                yield medium, cls, book


def sample_token(settings: Settings) -> str:
    return make_token(settings.secret_key.get_secret_value().encode(), *SAMPLE_IDS)


def template_previews(
    alert: Alert,
    *,
    media: Iterable[str],
    settings: Settings,
    notice: str | None = None,
    note: str = "",
    refuse: bool = True,
) -> list[TemplatePreview]:
    """The exact text each template-only provider of `media` sends for the alert (or its
    `notice`); a value over its variable's limit, or a kind without an approved template,
    is refused: a 422 naming the provider, the variable and the reason (unless not to
    `refuse`: the preview then says why that provider cannot send it)."""
    kind = message_kind(alert, notice)
    token = sample_token(settings)
    values = message_values(
        alert,
        language=settings.language,
        templates_dir=settings.config_dir / "templates",
        sender=settings.sender_name,
        zone=settings.zone,
        note=note,
    )
    personal = {"token": token, "link": settings.public_url(f"/c/{token}")}  # as items add
    message = Message(
        kind, alert.hazard.value, alert.level.value, {**values, **personal}, alert.is_drill
    )
    shown = []
    for medium, cls, book in template_books(media, settings):
        try:
            filled = book.fill(message)
        except TemplateRefused as exc:
            if refuse:
                raise refusal(cls, exc, book) from exc
            why = refusal(cls, exc, book).message
            shown.append(
                TemplatePreview(
                    medium=medium,
                    provider=cls.name,
                    kind=kind,
                    code="",
                    params={},
                    text="",
                    length=0,
                    segments=0,
                    refused=why,
                )
            )
            continue
        shown.append(
            TemplatePreview(
                medium=medium,
                provider=cls.name,
                kind=kind,
                code=filled.code,
                params=filled.params,
                text=filled.text,
                length=filled.length,
                segments=filled.segments,
            )
        )
    return shown


def check_templates(
    alert: Alert,
    *,
    settings: Settings,
    media: Iterable[str] | None = None,
    notice: str | None = None,
    note: str = "",
) -> None:
    """Refuse (422) what a template-only provider of the alert's media could not send."""
    template_previews(
        alert,
        media=media_of(alert) if media is None else media,
        settings=settings,
        notice=notice,
        note=note,
    )


def refusal(cls: ChannelClass, exc: TemplateRefused, book: TemplateBook) -> ValidationFailed:
    """The refusal as the officer reads it: the provider, the variable and the reason, and
    as `field` the value that fills the variable (headline, instruction…)."""
    template = book.templates.get(exc.kind)
    source = template.sources.get(exc.variable or "") if template else None
    who = f"{cls.label}（{cls.name}）" if cls.label else cls.name
    return ValidationFailed(
        f"{who} 的已审核模板无法发送 / the approved template of {cls.name} cannot carry "
        f"this: {exc.kind}{'.' + exc.variable if exc.variable else ''}: {exc.reason}",
        field=source or "templates",
        provider=cls.name,
        kind=exc.kind,
        variable=exc.variable,
        reason=exc.reason,
    )
