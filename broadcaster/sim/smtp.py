"""SMTP sink for the demo and tests: aiosmtpd on its own thread, every message recorded."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

REJECTED = "550 5.1.1 <{}>: Recipient address rejected: User unknown"
DEFERRED = "451 4.3.0 <{}>: Temporary lookup failure, try again later"
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class Mail:
    """One accepted message as the sink decoded it."""

    mail_from: str
    rcpt_tos: list[str]
    subject: str
    text: str | None
    html: str | None
    message_id: str | None
    raw: bytes = field(repr=False)
    at: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        """Everything but the raw bytes, for the control API."""
        data = asdict(self)
        data.pop("raw")
        return data


def decode(mail_from: str, rcpt_tos: Iterable[str], raw: bytes) -> Mail:
    """Parse a message: subject decoded (RFC 2047), text and HTML parts as str."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    parts = {kind: message.get_body((kind,)) for kind in ("plain", "html")}
    text, html = (  # canonical CRLF line breaks back to "\n"
        part.get_content().replace("\r\n", "\n") if isinstance(part, EmailMessage) else None
        for part in parts.values()
    )
    return Mail(
        mail_from=mail_from,
        rcpt_tos=list(rcpt_tos),
        subject=str(message.get("subject", "")),
        text=text,
        html=html,
        message_id=message.get("message-id"),
        raw=raw,
    )


class SmtpSink:
    """A real SMTP server that keeps what it gets; some recipients refused (550) or deferred (451).

    `stalled` recipients get their 250 after DATA only after `stall_seconds` (the message
    is recorded first), to show a client timing out once the server may have it.
    With `credentials`, AUTH PLAIN/LOGIN is offered (without TLS: a test server only).
    """

    def __init__(
        self,
        *,
        rejected: Iterable[str] = (),
        deferred: Iterable[str] = (),
        stalled: Iterable[str] = (),
        stall_seconds: float = 30.0,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.rejected = {a.lower() for a in rejected}
        self.deferred = {a.lower() for a in deferred}
        self.stalled = {a.lower() for a in stalled}
        self.stall_seconds = stall_seconds
        self.credentials = credentials
        self.port: int | None = None
        self.connections = 0
        self._mail: list[Mail] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def messages(self) -> list[Mail]:
        """A copy of the accepted messages, oldest first."""
        with self._lock:
            return list(self._mail)

    def clear(self) -> None:
        with self._lock:
            self._mail.clear()

    # aiosmtpd handler hooks (run on the sink's loop)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self.rejected:
            return REJECTED.format(address)
        if address.lower() in self.deferred:
            return DEFERRED.format(address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail = decode(str(envelope.mail_from), envelope.rcpt_tos, raw)
        with self._lock:
            self._mail.append(mail)
        if any(r.lower() in self.stalled for r in envelope.rcpt_tos):
            await asyncio.sleep(self.stall_seconds)
        return f"250 2.0.0 Ok: queued as {len(self._mail):08X}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.credentials is not None
            and self.credentials.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    def _protocol(self) -> SMTP:
        self.connections += 1
        auth: dict[str, Any] = {}
        if self.credentials is not None:
            auth = {"authenticator": self._authenticate, "auth_require_tls": False}
        return SMTP(self, hostname="sim-smtp.invalid", ident="broadcaster sim SMTP", **auth)

    # lifecycle (from any thread)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 = a free port) in a daemon thread; return the port."""
        if self._thread is not None:
            raise RuntimeError("the SMTP sink is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(self._protocol, host=host, port=port)
                )
            except OSError as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="sim-smtp", daemon=True)
        self._thread.start()
        ready.wait(STOP_SECONDS)
        if failure or self._server is None:
            self._thread.join(STOP_SECONDS)
            self._thread = self._loop = None
            raise failure[0] if failure else RuntimeError("the SMTP sink did not start")
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def stop(self) -> None:
        """Close the listener and open sessions, stop the thread (safe to call twice)."""
        loop, thread, server = self._loop, self._thread, self._server
        if loop is None or thread is None or server is None:
            return

        async def shutdown() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            await asyncio.sleep(0)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(STOP_SECONDS)
        self._loop = self._thread = self._server = None
        self.port = None

    def __enter__(self) -> SmtpSink:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # control API, for whoever mounts it next to the simulator

    def routes(self) -> list[Route]:
        """GET /api/mail (?to= filters), POST /api/mail/config and /api/mail/reset."""
        return [
            Route("/api/mail", self._list, methods=["GET"]),
            Route("/api/mail/config", self._configure, methods=["POST"]),
            Route("/api/mail/reset", self._reset, methods=["POST"]),
        ]

    async def _list(self, request: Request) -> Response:
        to = (request.query_params.get("to") or "").lower()
        found = [m for m in self.messages if not to or to in (r.lower() for r in m.rcpt_tos)]
        return JSONResponse({"mail": [m.summary() for m in found]})

    async def _configure(self, request: Request) -> Response:
        """{"rejected": [...], "deferred": [...], "stalled": [...]} replace those sets."""
        try:
            data = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, 400)
        if not isinstance(data, dict):
            return JSONResponse({"error": "body must be a JSON object"}, 400)
        for name in ("rejected", "deferred", "stalled"):
            if name in data:
                setattr(self, name, {str(a).lower() for a in data[name]})
        return JSONResponse(
            {n: sorted(getattr(self, n)) for n in ("rejected", "deferred", "stalled")}
        )

    async def _reset(self, request: Request) -> Response:
        self.clear()
        return JSONResponse({"reset": True})
