"""Relay through the mainland SMS providers: the group owner's text is the approved `relay`
template of Aliyun's or Tencent's SMS book, with the same account, settings and push hooks."""

from __future__ import annotations

from typing import ClassVar

from channels.base import SendItem
from channels.config import Deployment
from channels.relay import Relay
from channels.sms_aliyun import SmsAliyun
from channels.sms_tencent import SmsTencent
from channels.templated import Filled, TemplateBook, book_path, load_book


class RelayAliyun(SmsAliyun):
    """The relay text through Aliyun SMS: the SMS template book (its `relay` kind), the
    settings of `channel_options.aliyun` and `.sms_aliyun`; receipts come by the SMS push
    (its OutId is the relay delivery's id)."""

    name = "relay_aliyun"
    medium = "relay"
    provider = "aliyun"
    label = "群转发（阿里云短信）"
    settings_sections: ClassVar[tuple[str, ...]] = ("aliyun", SmsAliyun.name)
    capabilities = Relay.capabilities

    @classmethod
    def template_book(cls, deployment: Deployment) -> TemplateBook | None:
        return SmsAliyun.template_book(deployment)

    def fill(self, item: SendItem) -> Filled:
        if item.message is None or self.settings.config_dir is None:
            return super().fill(item)  # refused, saying why
        return self._book().fill(item.message)

    def sign_name(self) -> str:
        if self.settings.config_dir is None:
            return super().sign_name()
        return self.settings.sign_name or self._book().sign_name

    def _book(self) -> TemplateBook:
        assert self.settings.config_dir is not None
        path = book_path(self.settings.config_dir, SmsAliyun.name)
        return load_book(path, self.settings.public_base)


class RelayTencent(SmsTencent):
    """The relay text through Tencent Cloud SMS: the SMS template book (its `relay` kind),
    the settings of `channel_options.tencent` and `.sms_tencent`; status pushes find the
    relay delivery by its id or the provider's serial number."""

    name = "relay_tencent"
    medium = "relay"
    provider = "tencent"
    label = "群转发（腾讯云短信）"
    settings_sections: ClassVar[tuple[str, ...]] = ("tencent", SmsTencent.name)
    capabilities = Relay.capabilities

    @classmethod
    def template_book(cls, deployment: Deployment) -> TemplateBook | None:
        return SmsTencent.template_book(deployment)

    def book(self) -> TemplateBook:
        if self.settings.config_dir is None:
            return super().book()  # refused, saying why
        path = book_path(self.settings.config_dir, SmsTencent.name)
        return load_book(path, self.settings.public_base)
