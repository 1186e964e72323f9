"""The registry: media and their providers, webhook routes, and the registrations it refuses."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import EntryPoint
from typing import ClassVar

import pytest
from pydantic import BaseModel

from channels.base import (
    Audience,
    Capabilities,
    Channel,
    Reach,
    SendItem,
    SendResult,
    TextForm,
)
from channels.hooks import Hook, HookAnswer, HookRequest
from channels.registry import (
    ChannelRegistryError,
    build_registry,
    form_of,
    hook_route,
    media,
    providers_in_use,
    providers_of,
)
from channels.relay import Relay
from channels.relay_mainland import RelayAliyun, RelayTencent
from channels.sms_aliyun import SmsAliyun
from channels.sms_tencent import SmsTencent
from channels.sms_twilio import SmsTwilio
from channels.voice_twilio import VoiceTwilio


class Nothing(BaseModel):
    pass


def ignore(_request: HookRequest) -> HookAnswer:
    return HookAnswer()


class Acme(Channel[Nothing]):
    """A second provider of SMS, for these tests only."""

    name = "acme_sms"
    medium = "sms"
    provider = "acme"
    settings_model = Nothing
    capabilities = Capabilities(audience=Audience.person, reach=Reach.mobile)
    hooks: ClassVar[dict[str, Hook]] = {"receipts": Hook(ignore)}

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        return []


class AcmeCalls(Acme):
    name = "acme_calls"
    medium = "sms"
    provider = "acme-calls"
    capabilities = Capabilities(audience=Audience.person, reach=Reach.phone)
    hooks: ClassVar[dict[str, Hook]] = {}


class AcmeLetters(Acme):
    """SMS in the e-mail's text form: at odds with the other SMS providers."""

    name = "acme_letters"
    medium = "sms"
    provider = "acme-letters"
    capabilities = Capabilities(audience=Audience.person, reach=Reach.mobile, form=TextForm.letter)
    hooks: ClassVar[dict[str, Hook]] = {}


class AcmeTwin(Acme):
    name = "acme_twin"
    medium = "sms"


class AcmeRoute(Acme):
    """Another medium of the same provider, declaring the same webhook again."""

    name = "acme_route"
    medium = "pager"
    hooks: ClassVar[dict[str, Hook]] = dict(Acme.hooks)


BUILT_IN = {"sms": "channels.sms_twilio:SmsTwilio", "voice": "channels.voice_twilio:VoiceTwilio"}


def points(*names: str) -> list[EntryPoint]:
    """The built-in SMS and voice entry points, and this module's classes by name."""
    found = [EntryPoint(n, value, "broadcaster.channels") for n, value in BUILT_IN.items()]
    classes = {c.name: c.__name__ for c in (Acme, AcmeCalls, AcmeLetters, AcmeTwin, AcmeRoute)}
    return found + [
        EntryPoint(n, f"{__name__}:{classes[n]}", "broadcaster.channels") for n in names
    ]


def test_the_built_ins_are_media_with_their_providers() -> None:
    assert (SmsTwilio.medium, SmsTwilio.provider) == ("sms", "twilio")
    assert (VoiceTwilio.medium, VoiceTwilio.provider) == ("voice", "twilio")
    assert (Relay.medium, Relay.provider) == ("relay", "twilio")
    assert next(iter(providers_of("sms").items())) == ("twilio", SmsTwilio)  # the medium's own
    assert providers_of("sms")["tencent"] is SmsTencent
    assert media()["relay"] is Relay
    assert {"sms", "voice", "relay", "email", "wecom_group", "loudspeaker"} <= set(media())
    route = hook_route("twilio", "sms/inbound")
    assert route is not None
    assert route[0] is SmsTwilio  # relay shares the SMS routes; SMS owns them
    assert hook_route("twilio", "voice/gather") == (VoiceTwilio, VoiceTwilio.hooks["voice/gather"])
    assert hook_route("twilio", "nothing") is None
    assert hook_route("nobody", "sms/status") is None


def test_a_second_provider_of_a_medium_registers_beside_the_first() -> None:
    registry = build_registry(points("acme_sms"))
    assert registry["acme_sms"] is Acme
    assert (Acme.medium, Acme.provider) == ("sms", "acme")
    assert AcmeTwin.provider == "acme"  # inherited, with the medium it names


def test_registrations_that_would_be_ambiguous_stop_start_up() -> None:
    with pytest.raises(ChannelRegistryError, match="reach different addresses"):
        build_registry(points("acme_calls"))
    with pytest.raises(ChannelRegistryError, match="carry different text forms"):
        build_registry(points("acme_letters"))
    with pytest.raises(ChannelRegistryError, match="two providers 'acme' of medium 'sms'"):
        build_registry(points("acme_sms", "acme_twin"))
    with pytest.raises(ChannelRegistryError, match="/hooks/acme/receipts"):
        build_registry(points("acme_sms", "acme_route"))


def test_each_medium_carries_the_text_form_it_declares_or_its_reach_implies() -> None:
    forms = {m: form_of(m) for m in ("sms", "voice", "email", "wecom_group", "loudspeaker")}
    assert forms == {
        "sms": TextForm.short_text,
        "voice": TextForm.spoken,
        "email": TextForm.letter,
        "wecom_group": TextForm.group_post,
        "loudspeaker": TextForm.broadcast,
    }
    assert form_of("relay") == TextForm.forward
    assert form_of("nothing") is None
    # undeclared: the form of the addresses it reaches
    assert Acme.capabilities.text_form == TextForm.short_text
    assert AcmeCalls.capabilities.text_form == TextForm.spoken
    assert AcmeLetters.capabilities.text_form == TextForm.letter


def test_relay_goes_through_the_mainland_sms_providers_too() -> None:
    assert providers_of("relay") == {
        "twilio": Relay,
        "aliyun": RelayAliyun,
        "tencent": RelayTencent,
    }
    for cls in (RelayAliyun, RelayTencent):
        assert cls.capabilities == Relay.capabilities  # group owners, the forward text
    # their receipts come by the SMS providers' pushes, whose routes the SMS classes own
    assert hook_route("aliyun", "sms_report") == (SmsAliyun, SmsAliyun.hooks["sms_report"])
    route = hook_route("tencent", "sms/status")
    assert route is not None
    assert route[0] is SmsTencent


def test_the_providers_in_use_are_the_configured_ones_and_the_defaults_of_the_rest() -> None:
    mainland = {"sms": ["aliyun", "tencent"], "voice": ["aliyun"], "relay": ["tencent"]}
    used = providers_in_use(mainland)
    assert {"aliyun", "tencent"} <= used
    assert "twilio" not in used
    assert "twilio" in providers_in_use({"sms": ["aliyun"], "voice": ["aliyun"]})  # relay's
    assert "twilio" in providers_in_use({**mainland, "voice": ["aliyun", "twilio"]})
