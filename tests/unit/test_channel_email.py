"""Email channel without a network: addresses, settings, HTML from text, the MIME message."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from pydantic import ValidationError

from channels.base import SendItem
from channels.email_smtp import EmailSmtpSettings, compose, parse_address, text_to_html

FROM = "防汛抗旱指挥部 <alerts@example.org>"
LINK = "https://warn.example.org/c/Tok_en-123?a=1&b=2"


def settings(**overrides: object) -> EmailSmtpSettings:
    return EmailSmtpSettings.model_validate({"from_address": FROM, **overrides})


def test_from_address_keeps_its_display_name() -> None:
    sender = settings().sender()
    assert (sender.display_name, sender.addr_spec) == ("防汛抗旱指挥部", "alerts@example.org")
    assert parse_address("alerts@example.org").domain == "example.org"


@pytest.mark.parametrize("bad", ["not an address", "x@", "@x.org", "a@b@c", "a\r\n@x.org"])
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        parse_address(bad)


def test_settings_reject_a_bad_sender_and_a_message_id_too_long_to_store() -> None:
    with pytest.raises(ValidationError):
        settings(from_address="防汛抗旱指挥部")
    with pytest.raises(ValidationError, match="message_id_domain"):
        settings(message_id_domain="a" * 40 + ".example.org")
    message_id = settings().message_id()
    assert message_id.startswith("<")
    assert message_id.endswith("@example.org>")
    assert len(message_id) <= 64
    assert settings().message_id() != message_id


def test_html_from_text_escapes_and_links() -> None:
    page = text_to_html(f"水位 <警戒> & 上涨\n请点击：{LINK}。谢谢")
    assert "水位 &lt;警戒&gt; &amp; 上涨<br>" in page
    escaped = LINK.replace("&", "&amp;")
    assert f'<a href="{escaped}">{escaped}</a>。谢谢' in page
    assert '<meta charset="utf-8">' in page


def test_html_link_leaves_trailing_punctuation_outside() -> None:
    page = text_to_html("see https://x.example/c/abc.")
    assert '<a href="https://x.example/c/abc">https://x.example/c/abc</a>.' in page


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_message_is_multipart_alternative_with_encoded_headers() -> None:
    body = f"居民您好：红色暴雨预警。\n请点击确认：{LINK}"
    item = SendItem(7, "resident@example.org", body, extra={"subject": "【红色预警】暴雨\n转移"})
    raw, message_id = compose(settings(), item)
    assert raw.isascii()
    headers = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "Subject: =?utf-8?" in headers
    assert "From: =?utf-8?" in headers
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "【红色预警】暴雨 转移"  # line break folded away
    assert message["From"].addresses[0].display_name == "防汛抗旱指挥部"
    assert message["To"] == "resident@example.org"
    assert message["Message-ID"] == message_id
    assert message["Date"].datetime is not None
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(plain, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == body
    assert LINK.replace("&", "&amp;") in html.get_content()


def test_given_html_is_used_and_subject_defaults_to_the_first_line() -> None:
    item = SendItem(1, "a@example.org", "第一行标题\n正文", extra={"html": "<p>自定义</p>"})
    message = parse(compose(settings(), item)[0])
    assert message["Subject"] == "第一行标题"
    html = message.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert html.get_content().strip() == "<p>自定义</p>"
