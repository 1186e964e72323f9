"""Preview of every channel's text before sending, with SMS length and segment counts."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from broadcaster.alerts import policy
from broadcaster.alerts.models import Alert, MsgType
from broadcaster.alerts.schemas import AlertIn, TemplatePreview
from broadcaster.alerts.texts import render
from broadcaster.alerts.tokens import make_token
from broadcaster.registry.service import households_in_zone, zones_by_code
from broadcaster.settings import Settings
from channels.base import TextForm
from channels.loudspeaker import normalize
from channels.sms_text import segments, sms_length

SAMPLE_IDS = (987_654, 9_876_543)  # a long token, so counts are not optimistic


class SmsPreview(BaseModel):
    text: str
    encoding: str
    length: int
    segments: int


# The texts by form, each field named as the API has always named it: the short text (sms),
# the spoken script (voice), the group post (wecom_group), the letter (email_*) and the
# broadcast (loudspeaker).
class Preview(BaseModel):
    households: int
    channels: list[str]
    sms: SmsPreview
    voice: str
    wecom_group: str
    email_subject: str
    email_body: str
    loudspeaker: str
    loudspeaker_spoken: str
    templates: list[TemplatePreview] = Field(
        default_factory=list,
        description="Per provider that sends only approved templates: the exact text it sends.",
    )


def preview(
    session: Session,
    *,
    body: AlertIn,
    settings: Settings,
    available: set[str],
    templates: Callable[[Alert], list[TemplatePreview]] | None = None,
) -> Preview:
    """What each channel would say, and how many households the zones hold (nothing saved);
    `templates` adds what providers that send approved templates only would send (and may
    refuse the alert)."""
    zones = zones_by_code(session, body.zones)
    snapshot = policy.snapshot(settings.config_dir, body.level)
    channels = policy.choose_channels(body.channels, policy.parse_policy(snapshot), available)
    targeted = union(*[households_in_zone(zone) for zone in zones]).subquery()
    households = session.scalar(select(func.count()).select_from(targeted)) or 0
    alert = Alert(
        id=SAMPLE_IDS[0],
        status=body.status,
        hazard=body.hazard,
        level=body.level,
        headline=body.headline,
        body=body.body,
        instruction=body.instruction,
        msg_type=MsgType.alert,
        channels=channels,
        policy=snapshot,
    )
    approved = templates(alert) if templates is not None else []
    token = make_token(settings.secret_key.get_secret_value().encode(), *SAMPLE_IDS)

    def text(form: TextForm, link: str = "") -> str:
        return render(
            alert,
            channel=form,
            language=settings.language,
            templates_dir=settings.config_dir / "templates",
            sender=settings.sender_name,
        ).personal(link)

    short = text(TextForm.short_text, settings.public_url(f"/c/{token}"))
    encoding, length = sms_length(short)
    broadcast = text(TextForm.broadcast)
    return Preview(
        households=int(households),
        channels=channels,
        sms=SmsPreview(text=short, encoding=encoding, length=length, segments=segments(short)),
        voice=text(TextForm.spoken),
        wecom_group=text(TextForm.group_post, settings.public_url("/public/alerts/…")),
        email_subject=text(TextForm.letter_subject),
        email_body=text(TextForm.letter, settings.public_url(f"/c/{token}")),
        loudspeaker=broadcast,
        loudspeaker_spoken=normalize(broadcast),
        templates=approved,
    )
