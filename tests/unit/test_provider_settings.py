"""One settings path: every provider's settings come from the configuration sections it names,
then its own `channel_options` table; the deployment's keys of today keep their meaning."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from broadcaster.delivery.channel_config import build_channel, channel_settings
from broadcaster.delivery.providers import (
    channel_limits,
    configured_providers,
    provider_for,
    provider_named,
)
from broadcaster.settings import Settings
from channels.base import ChannelError
from channels.email_smtp import EmailSmtpSettings
from channels.loudspeaker.channel import LoudspeakerSettings
from channels.registry import providers_of
from channels.sms_aliyun import SmsAliyun
from channels.sms_tencent import SmsTencent
from channels.sms_twilio import SmsTwilio, SmsTwilioSettings
from channels.voice_twilio import VoiceTwilio, VoiceTwilioSettings
from channels.wecom_group import WecomGroupSettings

SIM = "http://127.0.0.1:8099/sim"


def configured(**overrides: object) -> Settings:
    return Settings.model_validate(
        {
            "env": "test",
            "twilio": {"account_sid": "AC9", "auth_token": "tok", "rate_per_second": 30},
            "voice": {"machine_detection": False, "concurrency": 7, "say_voice": "Polly.Zhiyu"},
            "wecom": {"api_base_url": "https://robots.example.cn", "message_type": "markdown"},
            "email": {"host": "smtp.example.cn", "port": 2525, "username": "u", "password": "p"},
            "delivery": {"provider_timeout_seconds": 4, "concurrency": 60, "slow_after_seconds": 2},
            "simulator_url": SIM,
            "simulator_smtp": "127.0.0.1:2526",
            **overrides,
        }
    )


def test_sms_takes_the_twilio_section_and_the_delivery_defaults() -> None:
    sms = channel_settings("sms", configured(), drill=False)
    assert isinstance(sms, SmsTwilioSettings)
    assert (sms.account_sid, sms.auth_token.get_secret_value()) == ("AC9", "tok")
    assert (sms.rate_per_second, sms.concurrency, sms.timeout_seconds) == (30, 60, 4)
    assert (sms.slow_after_seconds, sms.lookup_concurrency, sms.api_base_url) == (2, 20, None)
    own = configured(twilio={"account_sid": "AC9", "timeout_seconds": 9, "rate_per_second": 0})
    sms = channel_settings("sms", own, drill=False)
    assert isinstance(sms, SmsTwilioSettings)
    assert (sms.timeout_seconds, sms.rate_per_second) == (9, None)  # 0: no limit
    drill = channel_settings("sms", configured(), drill=True)
    assert isinstance(drill, SmsTwilioSettings)
    assert drill.api_base_url == SIM


def test_voice_reads_twilio_then_voice_and_relay_texts_like_sms() -> None:
    voice = channel_settings("voice", configured(), drill=False)
    assert isinstance(voice, VoiceTwilioSettings)
    assert (voice.account_sid, voice.concurrency, voice.say_voice) == ("AC9", 7, "Polly.Zhiyu")
    assert voice.machine_detection is None  # [voice] machine_detection = false
    default = channel_settings("voice", Settings(env="test"), drill=False)
    assert isinstance(default, VoiceTwilioSettings)
    assert default.machine_detection == "Enable"
    relay = channel_settings("relay", configured(), drill=False)
    assert relay == channel_settings("sms", configured(), drill=False)


def test_wecom_email_and_loudspeaker_and_their_drills() -> None:
    settings = configured()
    wecom = channel_settings("wecom_group", settings, drill=False)
    assert isinstance(wecom, WecomGroupSettings)
    assert (wecom.api_base_url, wecom.message_type, wecom.timeout_seconds) == (
        "https://robots.example.cn",
        "markdown",
        4,
    )
    drill_wecom = channel_settings("wecom_group", settings, drill=True)
    assert isinstance(drill_wecom, WecomGroupSettings)
    assert drill_wecom.api_base_url == SIM
    email = channel_settings("email", settings, drill=False)
    assert isinstance(email, EmailSmtpSettings)
    assert (email.host, email.port, email.username, email.timeout_seconds) == (
        "smtp.example.cn",
        2525,
        "u",
        12,  # three delivery timeouts for a whole SMTP exchange
    )
    drill_email = channel_settings("email", settings, drill=True)
    assert isinstance(drill_email, EmailSmtpSettings)
    assert (drill_email.host, drill_email.port, drill_email.security) == ("127.0.0.1", 2526, "none")
    assert (drill_email.username, drill_email.password) == (None, None)
    speaker = channel_settings("loudspeaker", settings, drill=False)
    assert speaker == LoudspeakerSettings(drill_push_url=None, timeout_seconds=4)
    drill_speaker = channel_settings("loudspeaker", settings, drill=True)
    assert isinstance(drill_speaker, LoudspeakerSettings)
    assert drill_speaker.drill_push_url == f"{SIM}/ipcast/play"


def test_drills_without_a_simulator_are_refused() -> None:
    bare = configured(simulator_url=None, simulator_smtp=None)
    for name in ("sms", "voice", "relay", "wecom_group", "loudspeaker", "email"):
        with pytest.raises(ChannelError) as refused:
            channel_settings(name, bare, drill=True)
        assert refused.value.code == "drill_without_simulator"


def test_a_providers_own_table_comes_last_for_built_ins_too() -> None:
    settings = configured(channel_options={"sms": {"concurrency": 3, "from_number": "+8610086"}})
    sms = channel_settings("sms", settings, drill=False)
    assert isinstance(sms, SmsTwilioSettings)
    assert (sms.concurrency, sms.from_number, sms.account_sid) == (3, "+8610086", "AC9")
    with pytest.raises(ChannelError, match="channel sms misconfigured") as bad:
        channel_settings(
            "sms", configured(channel_options={"sms": {"concurrency": 0}}), drill=False
        )
    assert bad.value.code == "channel_settings"


def test_environment_and_toml_keys_reach_the_providers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "b.toml"
    config.write_text('[twilio]\nfrom_number = "+8610010"\n[voice]\nspeak_mode = "play"\n')
    monkeypatch.setenv("BROADCASTER_CONFIG", str(config))
    monkeypatch.setenv("BROADCASTER_TWILIO__AUTH_TOKEN", "from-the-environment")
    monkeypatch.setenv("BROADCASTER_MEDIA__SMS", '["twilio"]')
    monkeypatch.setenv("BROADCASTER_CHANNEL_OPTIONS__VOICE__RING_SECONDS", "45")
    settings = Settings()
    voice = channel_settings("voice", settings, drill=False)
    assert isinstance(voice, VoiceTwilioSettings)
    assert voice.auth_token == SecretStr("from-the-environment")
    assert (voice.from_number, voice.speak_mode, voice.ring_seconds) == ("+8610010", "play", 45)
    assert settings.media == {"sms": ["twilio"]}


def test_each_medium_goes_through_its_first_configured_provider() -> None:
    assert provider_for("sms", Settings(env="test")) is SmsTwilio
    assert configured_providers("sms", Settings(env="test", media={"sms": ["twilio"]})) == [
        SmsTwilio
    ]
    mainland = Settings(env="test", media={"sms": ["aliyun", "twilio"]})
    assert configured_providers("sms", mainland) == [SmsAliyun, SmsTwilio]
    unknown = Settings(env="test", media={"sms": ["pigeon-post", "twilio"]})
    with pytest.raises(ChannelError, match="pigeon-post") as missing:
        provider_for("sms", unknown)
    assert missing.value.code == "unknown_provider"
    with pytest.raises(ChannelError) as nothing:
        provider_for("carrier-pigeon", Settings(env="test"))
    assert nothing.value.code == "unknown_channel"
    assert channel_limits("sms", configured()).rate_per_second == 30
    assert channel_limits("carrier-pigeon", configured()).rate_per_second is None
    built = build_channel("sms", configured(), drill=False)
    assert isinstance(built, SmsTwilio)


def test_failover_takes_the_first_usable_provider_else_the_first() -> None:
    settings = Settings(env="test")
    assert provider_for("sms", settings, lambda cls: True) is SmsTwilio
    both = Settings(env="test", media={"sms": ["twilio", "tencent"]})
    assert provider_for("sms", both, lambda cls: cls is not SmsTwilio) is SmsTencent
    # none usable: the first still carries, its breaker holding the items back
    assert provider_for("sms", settings, lambda cls: False) is SmsTwilio
    assert provider_named("sms", "twilio") is SmsTwilio
    assert provider_named("sms", "sms") is SmsTwilio  # attempts named by channel before 0014
    with pytest.raises(ChannelError) as missing:
        provider_named("sms", "pigeon-post")
    assert missing.value.code == "unknown_provider"


def test_an_unconfigured_medium_has_its_default_provider_alone() -> None:
    """Failover runs along a configured list only: with Twilio down, an unconfigured
    deployment does not try a provider it never set up (its sends would fail for good)."""
    installed = providers_of("voice")
    assert len(installed) > 1  # Twilio and Aliyun voice are both installed
    assert configured_providers("voice", Settings(env="test")) == [VoiceTwilio]
    both = Settings(env="test", media={"voice": ["twilio", "aliyun"]})
    assert configured_providers("voice", both) == [VoiceTwilio, installed["aliyun"]]
