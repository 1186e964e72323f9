"""What the built-in channels declare — their addresses and their limits — is what the core
plans, builds and limits by."""

from __future__ import annotations

from pydantic import SecretStr

from broadcaster.flows.planners import PLANNERS
from broadcaster.flows.sending import BUILDERS
from channels.base import Limits, Reach
from channels.registry import channel_for, reach_of
from channels.relay import Relay
from channels.sms_twilio import SmsTwilio, SmsTwilioSettings
from channels.voice_twilio import VoiceTwilio, VoiceTwilioSettings
from channels.wecom_group import PER_ROBOT_PER_MINUTE, WecomGroup, WecomGroupSettings

ACCOUNT = {"account_sid": "AC1", "auth_token": SecretStr("t"), "from_number": "+8610000"}


def test_every_reach_has_a_planner_and_a_builder() -> None:
    assert set(PLANNERS) == set(Reach)
    assert set(BUILDERS) == set(Reach)


def test_the_built_in_channels_reach_their_addresses() -> None:
    assert reach_of("sms") is Reach.mobile
    assert reach_of("voice") is Reach.phone  # landlines too
    assert reach_of("email") is Reach.email
    assert reach_of("wecom_group") is Reach.group_robot
    assert reach_of("loudspeaker") is Reach.loudspeaker
    assert reach_of("relay") is Reach.group_owner
    assert reach_of("no-such-channel") is Reach.mobile
    assert channel_for(Reach.group_owner) == "relay"
    assert [r for r in Reach if r.zone_wide] == [
        Reach.group_robot,
        Reach.loudspeaker,
        Reach.group_owner,
    ]


def test_relay_texts_share_the_sms_accounts_rate() -> None:
    settings = SmsTwilioSettings(**ACCOUNT, rate_per_second=30.0)
    sms, relay = SmsTwilio(settings).limits(), Relay(settings).limits()
    assert sms == relay == Limits(rate_per_second=30.0, credential="AC1")
    assert not sms.per_address


def test_calls_and_robots_declare_per_address_limits() -> None:
    voice = VoiceTwilio(
        VoiceTwilioSettings(**ACCOUNT, per_number_per_minute=2, per_number_per_hour=7)
    ).limits()
    assert (voice.per_minute, voice.per_hour, voice.rate_per_second) == (2, 7, None)
    assert voice.per_address
    assert "per-number" in voice.why
    robot = WecomGroup(WecomGroupSettings()).limits()
    assert robot.rolling == (PER_ROBOT_PER_MINUTE, 60.0)
    assert robot.per_address
