"""The official twilio client, with its requests sent to a configurable API base URL."""

from __future__ import annotations

import asyncio
import base64
import logging
from functools import lru_cache
from types import TracebackType
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client


def rewrite_url(url: str, api_base_url: str | None) -> str:
    """Replace scheme and host of a provider URL with the base URL's, prefixing its path.

    rewrite_url("https://api.twilio.com/2010-04-01/x.json", "http://127.0.0.1:8900/sim")
    == "http://127.0.0.1:8900/sim/2010-04-01/x.json"
    """
    if not api_base_url:
        return url
    base = urlsplit(api_base_url)
    parts = urlsplit(url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))


FORM = "application/x-www-form-urlencoded"


@lru_cache(maxsize=256)
def _quoted_shared(text: str) -> str:
    return quote_plus(text)


def _quoted(value: object) -> str:
    """quote_plus; a text's part before its last link is shared by every message of an
    alert (only the personal link differs), so that part is encoded once and cached."""
    text = str(value)
    cut = text.rfind("http")
    if cut <= 0:
        return quote_plus(text)
    return _quoted_shared(text[:cut]) + quote_plus(text[cut:])


def form_body(data: dict[str, object]) -> bytes:
    """The form as `requests` encodes it (lists as repeated keys), ready to send as bytes."""
    pairs: list[str] = []
    for key, value in data.items():
        values = value if isinstance(value, list | tuple) else (value,)
        pairs.extend(f"{quote_plus(str(key))}={_quoted(v)}" for v in values if v is not None)
    return "&".join(pairs).encode("ascii")


class RewritingAsyncHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The library's aiohttp client on one pooled session per client, URLs rewritten.

    The library's own client opens its session in the constructor (needing a running
    loop) and, when a call passes no timeout, sends requests with no timeout at all.
    This one opens its session on first use, on the loop it is used from, and applies
    the configured timeout to every request. One instance serves one event loop.
    """

    def __init__(
        self, *, api_base_url: str | None, timeout: float, max_connections: int = 100
    ) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.api_base_url = api_base_url
        self.max_connections = max_connections
        self.session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._auth_header: tuple[tuple[str, str], str] | None = None

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, limit_per_host=self.max_connections
            )
            self.session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("this Twilio HTTP client belongs to another event loop")
        return self.session

    def _basic(self, auth: tuple[str, str]) -> str:
        if self._auth_header is None or self._auth_header[0] != auth:
            encoded = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._auth_header = (auth, f"Basic {encoded}")
        return self._auth_header[1]

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """The library's request, sent to the rewritten URL on the pooled session."""
        self._session()
        headers = dict(headers or {})
        if auth is not None:  # as a header: aiohttp deprecates its BasicAuth helper
            headers["Authorization"] = self._basic(auth)
        body: bytes | None = None
        if data:  # encoded here: aiohttp's FormData was a sixth of a worker's time
            body, headers["Content-Type"] = form_body(data), FORM
        response: Response = await super().request(
            method,
            rewrite_url(url, self.api_base_url),
            params=params,
            data=body,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        return response

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """The library formats its log lines eagerly; skip that unless INFO is on."""
        if self.logger.isEnabledFor(logging.INFO):
            super().log_request(kwargs)

    def log_response(self, status_code: int, response: Any) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            super().log_response(status_code, response)

    async def close(self) -> None:
        """Close the pooled session (safe to call twice)."""
        if self.session is not None:
            await self.session.close()
        self.session = None
        self._loop = None


class AsyncTwilio:
    """A twilio Client on a rewriting async HTTP client; close it when done."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_base_url: str | None,
        timeout: float,
        max_connections: int = 100,
    ) -> None:
        self.http = RewritingAsyncHttpClient(
            api_base_url=api_base_url, timeout=timeout, max_connections=max_connections
        )
        self.client = Client(account_sid, auth_token, http_client=self.http)

    async def close(self) -> None:
        await self.http.close()

    async def __aenter__(self) -> AsyncTwilio:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def make_async_client(
    *,
    account_sid: str,
    auth_token: str,
    api_base_url: str | None,
    timeout: float,
    max_connections: int = 100,
) -> AsyncTwilio:
    """An async-capable twilio Client (use the *_async methods) and its closer."""
    return AsyncTwilio(
        account_sid=account_sid,
        auth_token=auth_token,
        api_base_url=api_base_url,
        timeout=timeout,
        max_connections=max_connections,
    )
