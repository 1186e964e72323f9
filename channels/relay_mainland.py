"""Relay through the mainland SMS providers: the group owner's text is the approved `relay`
template of Aliyun's or Tencent's SMS book, with the same account, settings and push hooks."""

from __future__ import annotations

from typing import ClassVar

from channels.relay import Relay
from channels.sms_aliyun import SmsAliyun
from channels.sms_tencent import SmsTencent


class RelayAliyun(SmsAliyun):
    """The relay text through Aliyun SMS: the SMS template book (its `relay` kind), the
    settings of `channel_options.aliyun` and `.sms_aliyun`; receipts come by the SMS push
    (its OutId is the relay delivery's id)."""

    name = "relay_aliyun"
    medium = "relay"
    provider = "aliyun"
    label = "群转发（阿里云短信）"
    book_name = SmsAliyun.name
    settings_sections: ClassVar[tuple[str, ...]] = ("aliyun", SmsAliyun.name)
    capabilities = Relay.capabilities


class RelayTencent(SmsTencent):
    """The relay text through Tencent Cloud SMS: the SMS template book (its `relay` kind),
    the settings of `channel_options.tencent` and `.sms_tencent`; status pushes find the
    relay delivery by its id or the provider's serial number."""

    name = "relay_tencent"
    medium = "relay"
    provider = "tencent"
    label = "群转发（腾讯云短信）"
    book_name = SmsTencent.name
    settings_sections: ClassVar[tuple[str, ...]] = ("tencent", SmsTencent.name)
    capabilities = Relay.capabilities
