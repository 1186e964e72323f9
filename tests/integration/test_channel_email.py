"""The email channel against the aiosmtpd sink on loopback: real SMTP, no mocks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from broadcaster.sim.smtp import SmtpSink
from channels.base import Outcome, SendItem, SendResult
from channels.email_smtp import EmailSmtp, EmailSmtpSettings
from tests.integration.sim_support import ServerThread

FROM = "防汛抗旱指挥部 <alerts@example.org>"
SUBJECT = "【红色预警】暴雨：低洼地区请立即转移 — 请确认"
REJECTED = "nobody@example.org"
DEFERRED = "busy@example.org"
STALLED = "slow@example.org"


def link(n: int) -> str:
    return f"https://warn.example.org/c/Tok{n:04d}?lang=zh&v=1"


def body(n: int) -> str:
    return f"居民您好：\n红色暴雨预警，请低洼地区居民立即转移。\n确认收到请点击：{link(n)}"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(
        rejected=[REJECTED], deferred=[DEFERRED], stalled=[STALLED], stall_seconds=5
    ) as running:
        yield running


async def send(port: int, items: list[SendItem], **overrides: Any) -> list[SendResult]:
    settings = EmailSmtpSettings.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_address": FROM,
            "local_hostname": "broadcaster.test",
            **overrides,
        }
    )
    return await EmailSmtp(settings).send_batch(items)


def item(n: int, address: str | None = None) -> SendItem:
    return SendItem(n, address or f"r{n}@example.org", body(n), extra={"subject": SUBJECT})


async def test_utf8_subject_body_and_link_round_trip(sink: SmtpSink) -> None:
    assert sink.port is not None
    [result] = await send(sink.port, [item(1)])
    assert result.outcome is Outcome.accepted
    [mail] = sink.messages
    assert result.provider_id == mail.message_id
    assert (mail.mail_from, mail.rcpt_tos) == ("alerts@example.org", ["r1@example.org"])
    assert mail.subject == SUBJECT
    assert mail.text is not None
    assert mail.html is not None
    assert mail.text.rstrip("\n") == body(1)
    escaped = link(1).replace("&", "&amp;")
    assert f'<a href="{escaped}">{escaped}</a>' in mail.html
    assert "红色暴雨预警" in mail.html
    headers = mail.raw.split(b"\r\n\r\n", 1)[0]
    assert b"Subject: =?utf-8?" in headers
    assert b"multipart/alternative" in headers
    assert b"\r\nDate: " in headers


async def test_refused_recipient_fails_with_its_code_and_the_rest_go_through(
    sink: SmtpSink,
) -> None:
    assert sink.port is not None
    items = [item(1), item(2, REJECTED), item(3), item(4, DEFERRED), item(5)]
    results = {r.key: r for r in await send(sink.port, items, concurrency=2)}
    assert {k: r.outcome for k, r in results.items()} == {
        1: Outcome.accepted,
        2: Outcome.failed,
        3: Outcome.accepted,
        4: Outcome.retry,
        5: Outcome.accepted,
    }
    assert results[2].error_code == "550"
    assert "User unknown" in results[2].message
    assert results[4].error_code == "451"
    delivered = sorted(m.rcpt_tos[0] for m in sink.messages)
    assert delivered == ["r1@example.org", "r3@example.org", "r5@example.org"]


async def test_a_big_batch_shares_a_few_connections(sink: SmtpSink) -> None:
    assert sink.port is not None
    items = [item(n) for n in range(40)]
    results = await send(sink.port, items, concurrency=3, messages_per_connection=10)
    assert [r.outcome for r in results] == [Outcome.accepted] * 40
    assert len({r.provider_id for r in results}) == 40
    assert len(sink.messages) == 40
    assert 3 <= sink.connections <= 6  # 40 messages over 3 workers, 10 per connection
    texts = {m.rcpt_tos[0]: m.text or "" for m in sink.messages}
    assert all(link(n) in texts[f"r{n}@example.org"] for n in range(40))


async def test_timeout_after_data_is_unknown_and_the_server_has_it(sink: SmtpSink) -> None:
    assert sink.port is not None
    results = await send(sink.port, [item(1, STALLED), item(2)], concurrency=1, timeout_seconds=0.5)
    stalled, after = results
    assert (stalled.outcome, stalled.error_code) == (Outcome.unknown, "timeout")
    assert after.outcome is Outcome.accepted  # a new connection carried the next one
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == sorted([STALLED, "r2@example.org"])


async def test_bad_addresses_fail_without_touching_the_server(sink: SmtpSink) -> None:
    assert sink.port is not None
    results = await send(sink.port, [item(1, "not an address"), item(2, "张三@example.org")])
    assert [(r.outcome, r.error_code) for r in results] == [(Outcome.failed, "invalid_address")] * 2
    assert sink.connections == 0


async def test_nobody_listening_is_retry_for_every_item() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = await send(port, [item(n) for n in range(5)], concurrency=2)
    assert [(r.outcome, r.error_code) for r in results] == [(Outcome.retry, "connection")] * 5


async def test_login_and_a_refused_login() -> None:
    with SmtpSink(credentials={"alerts": "s3cret"}) as sink:
        assert sink.port is not None
        [ok] = await send(sink.port, [item(1)], username="alerts", password="s3cret")
        assert ok.outcome is Outcome.accepted
        refused = await send(
            sink.port, [item(n) for n in range(3)], username="alerts", password="x"
        )
        assert [(r.outcome, r.error_code) for r in refused] == [(Outcome.failed, "535")] * 3
        assert len(sink.messages) == 1


async def test_control_routes_list_mail(sink: SmtpSink) -> None:
    assert sink.port is not None
    await send(sink.port, [item(1), item(2)])
    with (
        ServerThread(Starlette(routes=sink.routes())) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client,
    ):
        mail = client.get("/api/mail", params={"to": "R2@example.org"}).json()["mail"]
        assert [(m["rcpt_tos"], m["subject"]) for m in mail] == [(["r2@example.org"], SUBJECT)]
        assert "raw" not in mail[0]
        configured = client.post("/api/mail/config", json={"rejected": ["r3@example.org"]})
        assert configured.json()["rejected"] == ["r3@example.org"]
        assert client.post("/api/mail/reset").json() == {"reset": True}
    assert sink.messages == []
    [result] = await send(sink.port, [item(3)])
    assert (result.outcome, result.error_code) == (Outcome.failed, "550")
