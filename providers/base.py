"""The one interface every WhatsApp provider implements, inbound and outbound.

A provider is a class in its own module, named in settings.SUFRAH_PROVIDERS (see registry.py and
docs/providers.md). Nothing outside the provider module knows a provider's payload shapes, signature scheme,
credential names or API: webhooks ask it to route, verify and parse a stored request; sending asks it to send.
No Django models here: providers sit below every app, so any app may use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, ClassVar, Literal, Protocol, runtime_checkable

from .content import InboundMessage, ItemFailure, OutboundContent, SendResult, StatusUpdate, TemplateStatusChange
from .media import Downloaded, MediaError, OutboundMediaRules


@dataclass(frozen=True)
class CredentialField:
    """One credential a sender of this provider needs. The admin form, the API and register_sender are
    generated from these; `secret` ones are write-only, masked when shown and encrypted with the rest."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    help_text: str = ""
    max_length: int = 500
    # Webhooks of this provider are routed by this value (e.g. Meta's phone_number_id): it is also stored in
    # the plain, unique Sender.routing_id column so it can be looked up.
    routing: bool = False
    # Returns an error message for a malformed value, or "" when it is fine.
    check: Callable[[str], str] | None = None

    @property
    def option(self) -> str:
        """The command-line option of register_sender: --account-sid, --phone-number-id, …"""
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class StoredRequest:
    """What the webhook view stored, handed to the provider (the raw body as received, byte for byte)."""

    kind: Literal["message", "status"]
    url: str
    method: str
    content_type: str
    headers: Mapping[str, str]
    body: bytes
    # What a provider made of the body, kept for the request's next look (routing, the signature, parsing
    # each read the same form): a provider's own keys, never compared or shown.
    parsed: dict = field(default_factory=dict, compare=False, repr=False)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True)
class Route:
    """How to find the sender a request is for: by our own WhatsApp number, by Sender.routing_id, or by the
    business account the sender's credentials name (`account_credential` of its provider: Meta's WABA id, for
    news about the account's templates)."""

    by: Literal["number", "routing_id", "account"]
    key: str


# One thing a webhook said: a customer message, a status of one of our messages, news about one of the
# account's templates, or an item that could not be
# understood (recorded with its reason and skipped, never a reason to drop its neighbours).
Item = InboundMessage | StatusUpdate | TemplateStatusChange | ItemFailure


@dataclass
class Parsed:
    """Everything in one request, each item with the route of the sender it belongs to."""

    items: list[tuple[Route, Item]] = field(default_factory=list)
    # Request-level problems the provider reported (Meta's value.errors): recorded on the event.
    errors: list[dict] = field(default_factory=list)


class SenderLike(Protocol):
    """What a provider reads of a sender (restaurants.models.Sender, without importing it)."""

    phone_number: str
    credentials: Mapping[str, str]


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str]
    label: ClassVar[str]
    credentials: ClassVar[tuple[CredentialField, ...]]
    # The header that authenticates a webhook (named in the 403 answer).
    signature_header: ClassVar[str]
    # What a 200 answer carries: (body, content type). Twilio wants TwiML, Meta anything.
    ack: ClassVar[tuple[str, str]]
    # Providers whose senders speak this provider's webhook format too (console speaks Twilio's).
    webhook_aliases: ClassVar[tuple[str, ...]]
    # Whether the webhook URL answers a GET handshake (verification_answer); without one, GET is a 405.
    handshake: ClassVar[bool]
    # The credential naming the business account that Route("account", …) finds senders by ("": none).
    account_credential: ClassVar[str]

    def routes(self, request: StoredRequest) -> list[Route]:
        """The senders a request is for; raises MalformedWebhook when it cannot be read at all."""
        ...

    def verify(self, request: StoredRequest, credentials: Mapping[str, str]) -> bool:
        """Whether the request is authentic for a sender with these credentials (constant-time)."""
        ...

    def parse(self, request: StoredRequest) -> Parsed:
        """Everything in the request. Raises MalformedWebhook for a request that is malformed as a whole."""
        ...

    def send(
        self, *, sender: SenderLike, to: str, content: OutboundContent, status_callback_url: str | None = None
    ) -> SendResult:
        """Hand one message to the provider; raises SendError (retryable or not)."""
        ...

    def status_callback_url(self, *, base_url: str) -> str | None:
        """Where this provider should post status callbacks for a send, or None if configured elsewhere."""
        ...

    def sent_messages_find(
        self, *, sender: SenderLike, to: str, content: OutboundContent, since: datetime
    ) -> list[SendResult] | None:
        """Reconcile a send that timed out: the provider's records of messages with this content to `to`
        since `since` (raises SendError when it cannot be reached), or None when the provider cannot be
        asked, in which case the message is never resent automatically."""
        ...

    def verification_answer(self, *, query: Mapping[str, str]) -> str | None:
        """The GET handshake some providers do when a webhook URL is configured; None answers 403."""
        ...

    # What this provider can send as media (kinds, types, sizes, caption, filename): checked before queueing.
    outbound_media: ClassVar[OutboundMediaRules]

    def media_download(
        self, *, credentials: Mapping[str, str], reference: Mapping[str, Any], sink: BinaryIO, max_bytes: int
    ) -> Downloaded:
        """Stream one inbound media file (`reference` is the entry of InboundMessage.media) into `sink`,
        refusing it past `max_bytes`; raises providers.media.MediaError (retryable or not)."""
        ...

    def credential_errors(self, values: Mapping[str, str]) -> dict[str, str]: ...

    def routing_id(self, values: Mapping[str, str]) -> str: ...


def sender_lookup(provider: Provider, route: Route) -> dict[str, Any]:
    """What the restaurants app's route lookups (selectors.senders_for_route, routing.sender_routes) take for a
    route of this provider's webhooks: its own senders and those of the providers that speak its format."""
    return {
        "providers": [provider.name, *provider.webhook_aliases],
        "by": route.by,
        "key": route.key,
        "account_credential": provider.account_credential,
    }


class BaseProvider:
    """Defaults most providers share; a provider overrides what differs."""

    name: ClassVar[str]
    label: ClassVar[str]
    credentials: ClassVar[tuple[CredentialField, ...]] = ()
    signature_header: ClassVar[str] = ""
    ack: ClassVar[tuple[str, str]] = ("", "text/plain")
    webhook_aliases: ClassVar[tuple[str, ...]] = ()
    handshake: ClassVar[bool] = False
    # The credential naming the business account that Route("account", …) finds senders by ("": none).
    account_credential: ClassVar[str] = ""
    outbound_media: ClassVar[OutboundMediaRules] = OutboundMediaRules()

    def media_download(self, **kwargs) -> Downloaded:
        raise MediaError("unsupported", f"{self.label} has no media to download", retryable=False)

    def status_callback_url(self, *, base_url: str) -> str | None:
        return None

    def sent_messages_find(self, **kwargs) -> list[SendResult] | None:
        return None  # no way to ask (no message list, no idempotency key): an ambiguous send is not resent

    def verification_answer(self, *, query: Mapping[str, str]) -> str | None:
        return None

    def credential_errors(self, values: Mapping[str, str]) -> dict[str, str]:
        """Field name → message for every missing or malformed credential."""
        errors = {}
        for f in self.credentials:
            value = (values.get(f.name) or "").strip()
            if not value:
                if f.required:
                    errors[f.name] = f"The {f.label} is required."
            elif len(value) > f.max_length:
                errors[f.name] = f"The {f.label} is longer than {f.max_length} characters."
            elif f.check and (problem := f.check(value)):
                errors[f.name] = problem
        return errors

    def routing_id(self, values: Mapping[str, str]) -> str:
        return next(((values.get(f.name) or "").strip() for f in self.credentials if f.routing), "")
