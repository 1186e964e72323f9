"""The channel contract: settings, capabilities, and an async batch send, one result per item."""

from __future__ import annotations

import datetime as dt
import enum
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from channels.config import Deployment
    from channels.hooks import CallScript, CallTurn, Hook, HookRequest
    from channels.templated import TemplateBook


class Audience(enum.StrEnum):
    """Whom one send item addresses."""

    person = "person"
    group = "group"
    zone = "zone"


class Reach(enum.StrEnum):
    """Which registry addresses a channel's items go to: the core plans and builds by this,
    never by a channel's name."""

    mobile = "mobile"  # every person's mobile number
    phone = "phone"  # every person's number, landlines included (calls)
    email = "email"  # every person's e-mail address
    group_robot = "group_robot"  # one post per group with a robot (WeCom)
    loudspeaker = "loudspeaker"  # one play per village loudspeaker
    group_owner = "group_owner"  # the person who forwards to a group without an API

    @property
    def zone_wide(self) -> bool:
        """Items per group or loudspeaker of the touched zones, not per household."""
        return self in (Reach.group_robot, Reach.loudspeaker, Reach.group_owner)


DEFAULT_REACH = {
    Audience.person: Reach.mobile,
    Audience.group: Reach.group_robot,
    Audience.zone: Reach.loudspeaker,
}


class TextForm(enum.StrEnum):
    """Which of our texts a channel's items carry: the core renders the form's templates,
    config/templates/<language>/<form>.txt.j2 (and <form>_<notice>.txt.j2), never a template
    named after a channel. A plugin may declare a form of its own and ship its templates."""

    short_text = "short_text"  # a text message: asks for a reply (SMS, pagers)
    spoken = "spoken"  # a call's script: asks for a key
    letter = "letter"  # an e-mail's body; its subject line is letter_subject
    letter_subject = "letter_subject"
    group_post = "group_post"  # a post into a group chat, by its robot or pasted by hand
    broadcast = "broadcast"  # what a loudspeaker plays (and its audio file)
    forward = "forward"  # what a group's owner is asked to pass on to the group


DEFAULT_FORM = {
    Reach.mobile: TextForm.short_text,
    Reach.phone: TextForm.spoken,
    Reach.email: TextForm.letter,
    Reach.group_robot: TextForm.group_post,
    Reach.loudspeaker: TextForm.broadcast,
    Reach.group_owner: TextForm.forward,
}
# The item field (SendItem.extra) naming the loudspeaker a play is for, when the item's
# address is the push endpoint of the loudspeaker's broadcast server.
SPEAKER_FIELD = "speaker"


class Outcome(enum.StrEnum):
    """What the provider said about one item.

    accepted: the provider took it (provider_id set); failed: it refused it for good;
    retry: it refused it for now (rate limit, 5xx) and nothing was sent;
    unknown: the fate is unknown (timeout) — never blindly resent, it is reconciled.
    """

    accepted = "accepted"
    failed = "failed"
    retry = "retry"
    unknown = "unknown"


@dataclass(frozen=True)
class Capabilities:
    """What a channel can carry."""

    audience: Audience
    confirmations: frozenset[str] = frozenset()
    max_body_chars: int | None = None
    rate_per_second: float | None = None
    reach: Reach | None = None  # unset: the audience's usual addresses (DEFAULT_REACH)
    form: str | None = None  # unset: the usual text form of its addresses (DEFAULT_FORM)

    @property
    def addresses(self) -> Reach:
        """The addresses this channel's items go to."""
        return self.reach or DEFAULT_REACH[self.audience]

    @property
    def text_form(self) -> str:
        """Which of our texts its items carry (a TextForm, or a form its plugin ships)."""
        return self.form or DEFAULT_FORM[self.addresses]


@dataclass(frozen=True)
class Limits:
    """Provider limits a channel declares; the core enforces them, shared by every worker.

    rate_per_second: sends per second per credential (a token bucket keyed by `credential`,
    so channels on one account share it); per_minute/per_hour/per_day: sends to one address
    in a fixed minute, hour and day (carriers' per-number limits, counted per number across
    every provider of the medium); rolling: at most n sends to one
    address in any `seconds` (a strict window, e.g. a WeCom robot's 20 a minute); `why` is
    the officer-facing reason an item waits for a per-address limit."""

    rate_per_second: float | None = None
    credential: str = ""
    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None
    rolling: tuple[int, float] | None = None
    why: str = ""

    @property
    def per_address(self) -> bool:
        return bool(self.per_minute or self.per_hour or self.per_day or self.rolling)


@dataclass(frozen=True)
class Message:
    """What a text says, for providers that carry only approved templates (mainland SMS and
    voice): its kind (see channels.templated.KINDS), the alert's hazard and level, and the
    values a template may use (sender, level_name, hazard_name, headline, body, instruction,
    token, link, issued, note, and per kind e.g. head, address, phone)."""

    kind: str
    hazard: str = ""
    level: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    drill: bool = False  # an exercise: only a template that says so may carry it


@dataclass(frozen=True)
class SendItem:
    """One message to one address; `key` ties the result back to the caller's row. `body` is
    our own rendering of the text; `message` what it says, for template-only providers."""

    key: int
    address: str
    body: str
    callback_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    message: Message | None = None


@dataclass(frozen=True)
class SendResult:
    """The provider's answer for one item."""

    key: int
    outcome: Outcome
    provider_id: str | None = None
    error_code: str | None = None
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    # Accepted and as delivered as it will ever be known (a robot without receipts, a
    # broadcast server that says it played): the delivery ends `delivered`, not `sent`.
    final: bool = False
    # A "slow down" answer (the provider's rate or per-number limit): nothing was sent and the
    # provider is well — the item waits (`retry_after`), the circuit breaker is not fed.
    throttled: bool = False

    @property
    def retryable(self) -> bool:
        return self.outcome is Outcome.retry


@dataclass(frozen=True)
class LookupItem:
    """A message whose fate is unknown: find it at the provider by id, or by its marker text."""

    key: int
    address: str
    since: dt.datetime
    marker: str
    provider_id: str | None = None


class ProviderState(enum.StrEnum):
    """Where the provider says a message is."""

    sent = "sent"
    delivered = "delivered"
    failed = "failed"


@dataclass(frozen=True)
class LookupResult:
    """found=True: the provider has it (provider_id, state); False: it never got there;
    None: the lookup itself failed, ask again later."""

    key: int
    found: bool | None
    provider_id: str | None = None
    state: ProviderState | None = None
    error_code: str | None = None


class SendGate(Protocol):
    """The core's say on each request, asked right before it goes (a circuit breaker)."""

    def allow(self) -> float:
        """0 when the request may go now, else how many seconds to hold it back."""
        ...


def held(item: SendItem, wait: float) -> SendResult:
    """The result of an item the gate held back: nothing was sent; it waits, queued."""
    return SendResult(
        item.key,
        Outcome.retry,
        error_code="circuit_open",
        message="提供商暂时停用 / provider paused after repeated errors",
        detail={"retry_after": wait},
    )


class ChannelError(Exception):
    """A channel-level failure; `message` is safe to show to an officer."""

    def __init__(self, message: str, *, retryable: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code


SettingsT = TypeVar("SettingsT", bound=BaseModel)


class Channel(ABC, Generic[SettingsT]):
    """One provider's way of carrying one medium. Channels never touch the database: a batch
    in, results out; webhook requests in, typed reports out.

    `name` registers the class (its entry point); `medium` is what alerts, policies and
    deliveries speak of (default: the name), and several providers may serve one medium;
    `provider` names who carries it (default: the name): its webhook routes are
    /hooks/{provider}/{kind} for each kind in `hooks`, and attempts record it."""

    name: ClassVar[str]
    book_name: ClassVar[str | None] = None  # its template book's name, when not its own
    medium: ClassVar[str] = ""
    provider: ClassVar[str] = ""
    label: ClassVar[str] = ""  # what people read (zh-CN; the console translates it)
    settings_model: ClassVar[type[BaseModel]]
    # Configuration sections read into the settings, in order (later keys win); the
    # provider's own table `channel_options.<name>` comes last.
    settings_sections: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[Capabilities]
    hooks: ClassVar[Mapping[str, Hook]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None:
            if "medium" not in cls.__dict__:
                cls.medium = name
            if not cls.provider:
                cls.provider = name

    def __init__(self, settings: SettingsT) -> None:
        self.settings = settings

    @classmethod
    def configure(cls, options: dict[str, Any], deployment: Deployment) -> BaseModel:
        """The settings model from the merged configuration `options`; providers override it
        to take the deployment's defaults and to send drills to the simulator."""
        return cls.settings_model.model_validate(options)

    @classmethod
    def template_book(cls, deployment: Deployment) -> TemplateBook | None:
        """The approved templates this provider sends instead of free text: its book
        config/templates/providers/<book_name or name>.toml when the deployment has one, else
        None (the provider carries our own rendering of the text)."""
        from channels.templated import book_path, load_book  # templated imports this module

        if deployment.config_dir is None:
            return None
        path = book_path(deployment.config_dir, cls.book_name or cls.name)
        return load_book(path, deployment.public_base) if path.is_file() else None

    def verify(self, request: HookRequest) -> bool:
        """Whether a webhook request really comes from the provider (its signature, a secret
        in the path, a source address); refused unless the provider checks."""
        return False

    def call_document(self, turn: CallTurn, script: CallScript | None, request: HookRequest) -> str:
        """What a call does next (`script` None: not one of our calls, hang up)."""
        raise NotImplementedError(f"{self.name} places no calls")

    def limits(self) -> Limits:
        """The provider limits of this channel as configured; none by default."""
        return Limits()

    async def open(self) -> None:
        """Acquire long-lived resources (HTTP pools); called once before sends."""

    async def close(self) -> None:
        """Release what open() acquired."""

    @abstractmethod
    async def send_batch(self, items: Sequence[SendItem]) -> list[SendResult]:
        """Send every item; return exactly one result per item, in any order."""

    async def send_stream(
        self, items: Sequence[SendItem], gate: SendGate | None = None
    ) -> AsyncIterator[SendResult]:
        """Send every item and yield each result as it arrives (one per item). This default
        asks the gate once for the whole batch and yields when the batch is done; channels
        whose requests go one by one override it to yield each answer at once."""
        wait = gate.allow() if gate is not None else 0.0
        if wait:
            for item in items:
                yield held(item, wait)
            return
        for result in await self.send_batch(items):
            yield result

    async def lookup(self, items: Sequence[LookupItem]) -> list[LookupResult]:
        """Ask the provider about messages of unknown fate; channels that cannot, say so."""
        return [LookupResult(item.key, None) for item in items]

    @property
    def can_lookup(self) -> bool:
        return type(self).lookup is not Channel.lookup
