"""Relay units: link tokens, the owner's SMS text, the policy delay, the channel's registration."""

from __future__ import annotations

import datetime as dt

import pytest

from broadcaster.alerts.models import Alert, AlertStatus, Hazard, Level
from broadcaster.alerts.policy import parse_policy
from broadcaster.alerts.tokens import make_token, read_token
from broadcaster.errors import ValidationFailed
from broadcaster.registry.models import Group, GroupKind
from broadcaster.relay.items import sms_text
from broadcaster.relay.tokens import PHONE_HOLDER, make_relay_token, read_relay_token
from broadcaster.settings import Settings
from channels.base import Audience
from channels.registry import build_registry
from channels.relay import Relay
from channels.sms_text import segments
from channels.sms_twilio import SmsTwilio

SECRET = b"unit-secret"


def test_relay_tokens_round_trip_and_resist_forgery() -> None:
    token = make_relay_token(SECRET, 42, 7)
    assert read_relay_token(SECRET, token) == (42, 7)
    assert read_relay_token(SECRET, make_relay_token(SECRET, 3, PHONE_HOLDER)) == (3, 0)
    assert read_relay_token(b"other-secret", token) is None
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert read_relay_token(SECRET, flipped) is None
    for junk in ("", "abc", "!" * 12, "A" * 41, "%%%%%%%%"):
        assert read_relay_token(SECRET, junk) is None
    # Different HMAC domains: a confirmation link is no relay link, and back.
    assert read_relay_token(SECRET, make_token(SECRET, 42, 7)) is None
    assert read_token(SECRET, token) is None
    assert len({make_relay_token(SECRET, 42, h) for h in range(50)}) == 50


def alert(status: AlertStatus = AlertStatus.actual) -> Alert:
    return Alert(id=5, level=Level.red, hazard=Hazard.rain, status=status, headline="暴雨")


def test_owner_and_lead_sms_name_the_group_and_carry_the_link() -> None:
    settings = Settings(env="test")
    group = Group(name="一村居民群", kind=GroupKind.wechat)
    link = "https://warn.example.gov.cn/relay/wMQHio8G3NR-vs3Vs9Y"  # a real token's length
    owner = sms_text(alert(), settings, group, link, lead=False)
    assert "红色暴雨预警" in owner
    assert "微信群「一村居民群」" in owner
    assert link in owner
    assert segments(owner) == 2  # UCS-2: two segments with a real-length link
    assert not owner.startswith("【演练】")
    lead = sms_text(alert(AlertStatus.exercise), settings, group, link, lead=True)
    assert lead.startswith("【演练】")
    assert "超时未转发" in lead
    assert link in lead
    qq = sms_text(alert(), settings, Group(name="QQ群一", kind=GroupKind.qq), link, lead=False)
    assert "QQ群「QQ群一」" in qq
    english = sms_text(alert(), Settings(env="test", language="en"), group, link, lead=False)
    assert "Red rainstorm warning" in english
    assert 'wechat group "一村居民群"' in english
    assert english.endswith(link)


def test_relay_after_comes_from_the_policy() -> None:
    assert parse_policy({"relay_after": "10m"}).relay_after == dt.timedelta(minutes=10)
    assert parse_policy({"relay_after": 90}).relay_after == dt.timedelta(seconds=90)
    assert parse_policy({"channels": ["sms"]}).relay_after is None
    with pytest.raises(ValidationFailed) as bad:
        parse_policy({"relay_after": "soon"})
    assert bad.value.field == "relay_after"


def test_shipped_policies_relay_red_orange_yellow() -> None:
    from broadcaster.alerts.policy import load_policies
    from broadcaster.settings import PACKAGE_CONFIG_DIR

    policies = {level: parse_policy(t) for level, t in load_policies(PACKAGE_CONFIG_DIR).items()}
    assert policies["red"].relay_after == dt.timedelta(minutes=10)
    assert policies["orange"].relay_after == dt.timedelta(minutes=15)
    assert policies["yellow"].relay_after == dt.timedelta(minutes=30)
    assert policies["blue"].relay_after is None


def test_relay_is_a_registered_group_channel_sending_like_sms() -> None:
    registry = build_registry()
    assert registry["relay"] is Relay
    assert issubclass(Relay, SmsTwilio)
    assert Relay.settings_model is SmsTwilio.settings_model
    assert Relay.capabilities.audience is Audience.group
