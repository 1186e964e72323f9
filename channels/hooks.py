"""The webhook contract: what a provider posts back, verified and parsed by its own channel."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from channels.base import ProviderState

# The item field that carries a per-delivery hook's URL when it is the status callback; any
# other `item_field` is a key of the item's `extra` (e.g. where a call fetches its document).
CALLBACK = "callback_url"
PUSH_TOKEN_PARAM = "token"  # noqa: S105 (the query parameter carrying an unsigned push's secret)
DELIVERY_PARAM = "d"  # the query parameter naming our delivery in per-delivery hook URLs


class HookRejected(Exception):
    """A request the channel cannot understand: answered 422 with this reason, nothing applied."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class HookRequest:
    """One request to a provider's webhook, as its channel sees it."""

    url: str  # the public URL the provider called, query included (what providers sign)
    base: str  # the public URL of this provider's hooks, e.g. https://…/hooks/twilio
    query: Mapping[str, str]
    headers: Mapping[str, str]  # case-insensitive names
    form: Mapping[str, str]  # the fields of a form body (empty for other bodies)
    body: bytes
    client: str | None = None  # the source address

    def delivery(self) -> int:
        """Our delivery id from the `d` query parameter of a per-delivery hook URL."""
        ref = self.query.get(DELIVERY_PARAM, "")
        if not ref.isdigit():
            raise HookRejected("缺少投递编号 / missing delivery reference", field=DELIVERY_PARAM)
        return int(ref)

    def hook_url(self, kind: str, delivery_id: int, **params: object) -> str:
        """The public URL of another hook of this provider for one delivery."""
        extra = "".join(f"&{name}={value}" for name, value in params.items())
        return f"{self.base}/{kind}?{DELIVERY_PARAM}={delivery_id}{extra}"


@dataclass(frozen=True)
class Receipt:
    """The provider's word on one message it carried (matched by our id, checked by its id;
    a delivery id of 0 says the provider names only its own id: matched by that)."""

    delivery_id: int
    provider_id: str
    state: ProviderState
    error_code: str | None = None


@dataclass(frozen=True)
class Reply:
    """A resident's message to us; `sender` in E.164."""

    provider_id: str
    sender: str
    body: str


@dataclass(frozen=True)
class KeyPress:
    """A key pressed during one of our calls."""

    delivery_id: int
    digit: str
    call_id: str


@dataclass(frozen=True)
class CallTurn:
    """A call asks what to do next: play the message (`digit` None) or answer a key."""

    delivery_id: int
    attempt: int = 1
    digit: str | None = None


@dataclass(frozen=True)
class CallScript:
    """What the core knows of a call: the alert's spoken text, its audio, the language."""

    text: str
    audio_url: str | None
    language: str  # a message language: zh-CN or en


@dataclass(frozen=True)
class HookAnswer:
    """What one request said (lists: some providers push batches) and what to answer it.

    With `call` set, the core looks the call up and answers with the channel's
    `call_document`; otherwise it answers `body`."""

    receipts: Sequence[Receipt] = ()
    replies: Sequence[Reply] = ()
    keys: Sequence[KeyPress] = ()
    call: CallTurn | None = None
    body: str = ""
    media_type: str = "text/plain"


@dataclass(frozen=True)
class Hook:
    """One webhook of a provider, at /hooks/{provider}/{kind}: how to parse it, and which
    send-item field carries its per-delivery URL (None: the hook is not per delivery)."""

    parse: Callable[[HookRequest], HookAnswer]
    item_field: str | None = None


def push_allowed(request: HookRequest, token: str | None, allow: Sequence[str] = ()) -> bool:
    """An unsigned push (Aliyun, Tencent sign nothing they push) is the provider's when its URL
    names the configured secret token (constant-time compare) and, with an allow-list, it
    comes from one of those addresses or networks. Without a token nothing is accepted."""
    given = request.query.get(PUSH_TOKEN_PARAM, "")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return False
    if not allow:
        return True
    try:
        source = ipaddress.ip_address(request.client or "")
    except ValueError:
        return False
    return any(source in ipaddress.ip_network(net, strict=False) for net in allow)
