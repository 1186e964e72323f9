"""One middleware for the HTTP security headers of every response, by page type."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console serves its own scripts and styles: nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; media-src 'self'; worker-src 'self'; "
    "manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
)
EMBEDDABLE = ("/public/embed",)  # the compact list community websites show in an iframe
PRIVATE = ("/c/", "/relay/")  # pages whose URL carries a personal token


def header_sets(*, https: bool, hsts_seconds: int) -> dict[str, list[tuple[bytes, bytes]]]:
    """The headers of each page type: default, embeddable, private."""
    common = [
        (b"x-content-type-options", b"nosniff"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if https and hsts_seconds:
        common.append((b"strict-transport-security", f"max-age={hsts_seconds}".encode()))
    framed = [(b"content-security-policy", f"{CSP}; frame-ancestors *".encode())]
    unframed = [
        (b"content-security-policy", f"{CSP}; frame-ancestors 'none'".encode()),
        (b"x-frame-options", b"DENY"),
    ]
    referrer = (b"referrer-policy", b"strict-origin-when-cross-origin")
    private = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer")]
    return {
        "default": [*common, *unframed, referrer],
        "embeddable": [*common, *framed, referrer],
        "private": [*common, *unframed, *private],
    }


def page_type(path: str) -> str:
    if path in EMBEDDABLE:
        return "embeddable"
    if path.startswith(PRIVATE):
        return "private"
    return "default"


class SecurityHeaders:
    """Adds the page type's headers to each HTTP response; a route's own values win, except
    on private pages, where no-store and no-referrer always apply."""

    def __init__(self, app: ASGIApp, *, https: bool, hsts_seconds: int) -> None:
        self.app = app
        self.sets = header_sets(https=https, hsts_seconds=hsts_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = page_type(scope["path"])
        extra = self.sets[kind]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    key = name.decode()
                    if kind == "private" or key not in headers:
                        headers[key] = value.decode()
            await send(message)

        await self.app(scope, receive, send_with_headers)
