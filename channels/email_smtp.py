"""Email through SMTP with aiosmtplib: text and HTML alternatives, a few reused connections."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import re
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from email import errors, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal

import aiosmtplib
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from channels.base import (
    Audience,
    Capabilities,
    Channel,
    Outcome,
    Reach,
    SendItem,
    SendResult,
    TextForm,
)
from channels.config import Deployment

log = logging.getLogger(__name__)

LINK = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
TRAILING = ".,;:!?)'"
MAX_PROVIDER_ID = 64  # the deliveries.provider_id column
TOKEN_HEX = 24


def parse_address(text: str) -> Address:
    """One mailbox ("Name <a@b>" or "a@b"); ValueError when it is not exactly that."""
    try:
        if "<" in text:
            name, _, rest = text.rpartition("<")
            return Address(display_name=name.strip().strip('"'), addr_spec=rest.rstrip(" >"))
        return Address(addr_spec=text.strip())
    except (ValueError, IndexError, errors.MessageError) as exc:
        raise ValueError(f"not an email address: {text!r}") from exc


class EmailSmtpSettings(BaseModel):
    host: str = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535, description="None: 465/587/25.")
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["none", "starttls", "tls"] = "starttls"
    from_address: str = Field(description='e.g. "防汛抗旱指挥部 <alerts@example.org>"')
    message_id_domain: str | None = Field(default=None, description="Default: the From domain.")
    timeout_seconds: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=50, description="SMTP connections per batch.")
    messages_per_connection: int = Field(default=100, ge=1)
    validate_certs: bool = True
    local_hostname: str | None = None

    @field_validator("from_address")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        parse_address(value)
        return value

    @model_validator(mode="after")
    def _id_fits(self) -> EmailSmtpSettings:
        if len(self.message_id()) > MAX_PROVIDER_ID:
            raise ValueError("message_id_domain too long for a 64-character Message-ID")
        return self

    def sender(self) -> Address:
        return parse_address(self.from_address)

    def message_id(self) -> str:
        """A new Message-ID, angle brackets included (it is the provider id)."""
        domain = self.message_id_domain or self.sender().domain
        return f"<{secrets.token_hex(TOKEN_HEX // 2)}@{domain}>"


def text_to_html(text: str) -> str:
    """A minimal HTML page of the text: escaped, line breaks kept, links clickable."""
    out: list[str] = []
    last = 0
    for match in LINK.finditer(text):
        url = match.group().rstrip(TRAILING)
        out.append(html.escape(text[last : match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = match.start() + len(url)
    out.append(html.escape(text[last:]))
    body = "".join(out).replace("\n", "<br>\n")
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"></head>\n'
        f'<body><div style="font-size:16px;line-height:1.6">{body}</div></body></html>\n'
    )


def compose(settings: EmailSmtpSettings, item: SendItem) -> tuple[bytes, str]:
    """The MIME message (multipart/alternative, UTF-8, base64 parts) and its Message-ID."""
    message_id = settings.message_id()
    subject = " ".join(str(item.extra.get("subject") or item.body.split("\n", 1)[0]).split())
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = settings.sender()
    message["To"] = parse_address(item.address)
    message["Subject"] = subject  # encoded as RFC 2047 words when not ASCII
    message["Date"] = format_datetime(dt.datetime.now().astimezone())
    message["Message-ID"] = message_id
    message.set_content(item.body, cte="base64")
    page = item.extra.get("html") or text_to_html(item.body)
    message.add_alternative(str(page), subtype="html", cte="base64")
    return message.as_bytes(), message_id


@dataclass(frozen=True)
class _Failure:
    """What to answer for items that a worker could not send."""

    outcome: Outcome
    code: str
    message: str

    def result(self, key: int) -> SendResult:
        return SendResult(key, self.outcome, error_code=self.code, message=self.message)


def _code_outcome(code: int) -> Outcome:
    """SMTP reply classes: 4xx try again later, anything else refused for good."""
    return Outcome.retry if 400 <= code < 500 else Outcome.failed


def _session_failure(exc: Exception) -> _Failure:
    """A connection that could not be opened, secured or logged into."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _Failure(_code_outcome(exc.code), str(exc.code), exc.message[:200])
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return _Failure(Outcome.failed, "not_supported", str(exc)[:200])
    code = "timeout" if isinstance(exc, TimeoutError) else "connection"
    return _Failure(Outcome.retry, code, f"连接失败 / connection failed: {type(exc).__name__}")


class EmailSmtp(Channel[EmailSmtpSettings]):
    """One email per person, each in its own SMTP transaction, over a few connections.

    A batch opens up to `concurrency` connections, and each carries up to
    `messages_per_connection` messages in turn (a fresh connection after that): no
    connection per message, and none kept idle between batches for servers to drop.

    Outcomes per recipient: 250 after DATA → accepted (provider_id = Message-ID);
    a 5xx reply (RCPT, MAIL, DATA) → failed with that code; a 4xx → retry. A timeout or
    lost connection before DATA was sent → retry (nothing can have been accepted); once
    DATA was sent → unknown (the server may have queued it). A connection that cannot
    be opened, secured or logged into fails only its current item; when every worker
    gave up, the items left get that failure (usually retry).
    """

    name = "email"
    provider = "smtp"
    label = "电子邮件"
    settings_model = EmailSmtpSettings
    settings_sections = ("email",)
    capabilities = Capabilities(
        audience=Audience.person,
        confirmations=frozenset({"link"}),
        reach=Reach.email,
        form=TextForm.letter,
    )

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """The `[email]` section, with three delivery timeouts for a whole SMTP exchange;
        drills go to the simulator's SMTP sink, unauthenticated."""
        o = {"timeout_seconds": deployment.timeout_seconds * 3, **options}
        if deployment.drill:
            host, port = deployment.smtp_sink()
            o.update(host=host, port=port, security="none", username=None, password=None)
        return cls.settings_model.model_validate(o)

    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        queue: deque[SendItem] = deque()
        for item in items:
            try:
                if not item.address.isascii():  # would need SMTPUTF8: not supported
                    raise ValueError(item.address)
                parse_address(item.address)
            except ValueError:
                text = "无效的邮箱地址 / invalid email address"
                results[item.key] = SendResult(
                    item.key, Outcome.failed, error_code="invalid_address", message=text
                )
            else:
                queue.append(item)
        failures: list[_Failure] = []
        workers = min(self.settings.concurrency, len(queue))
        await asyncio.gather(*(self._worker(queue, results, failures) for _ in range(workers)))
        for item in queue:  # every worker gave up
            results[item.key] = failures[-1].result(item.key)
        return [results[item.key] for item in items]

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            timeout=s.timeout_seconds,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            validate_certs=s.validate_certs,
            local_hostname=s.local_hostname,
        )

    async def _worker(
        self, queue: deque[SendItem], results: dict[int, SendResult], failures: list[_Failure]
    ) -> None:
        smtp: aiosmtplib.SMTP | None = None
        carried = 0
        try:
            while queue:
                item = queue.popleft()
                if (
                    smtp is None
                    or not smtp.is_connected
                    or carried >= self.settings.messages_per_connection
                ):
                    await _quit(smtp)
                    smtp, carried = self._client(), 0
                    try:
                        await smtp.connect()
                    except (aiosmtplib.SMTPException, OSError) as exc:
                        failure = _session_failure(exc)
                        log.warning(
                            "smtp %s:%s: %s",
                            self.settings.host,
                            self.settings.port,
                            failure.message,
                        )
                        results[item.key] = failure.result(item.key)
                        failures.append(failure)
                        smtp = None
                        return
                results[item.key] = await self._deliver(smtp, item)
                carried += 1
        finally:
            await _quit(smtp)

    async def _deliver(self, smtp: aiosmtplib.SMTP, item: SendItem) -> SendResult:
        """One transaction: MAIL, RCPT, DATA; the stage decides what a lost answer means."""
        try:
            raw, message_id = compose(self.settings, item)
        except (ValueError, TypeError, UnicodeError) as exc:
            text = f"邮件无法生成 / cannot build the message: {type(exc).__name__}"
            return SendResult(item.key, Outcome.failed, error_code="bad_message", message=text)
        data_sent = False
        try:
            await smtp.mail(self.settings.sender().addr_spec)
            await smtp.rcpt(item.address)
            data_sent = True
            reply = await smtp.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            await _reset(smtp)
            return SendResult(
                item.key,
                _code_outcome(exc.code),
                error_code=str(exc.code),
                message=exc.message[:200],
                detail={"message_id": message_id},
            )
        except (aiosmtplib.SMTPException, OSError) as exc:  # timeout, connection lost
            smtp.close()
            outcome = Outcome.unknown if data_sent else Outcome.retry
            code = "timeout" if isinstance(exc, TimeoutError) else "connection"
            return SendResult(
                item.key,
                outcome,
                provider_id=message_id if data_sent else None,
                error_code=code,
                message=f"提供商未应答 / no answer: {type(exc).__name__}",
                detail={"message_id": message_id},
            )
        return SendResult(
            item.key,
            Outcome.accepted,
            provider_id=message_id,
            detail={"smtp_reply": reply.message[:200]},
        )


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    """RSET after a refusal so the connection can carry the next message."""
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


async def _quit(smtp: aiosmtplib.SMTP | None) -> None:
    if smtp is None or not smtp.is_connected:
        return
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
