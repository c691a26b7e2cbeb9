"""Inbound provider webhooks: store first, then route and verify through the provider, then hand over to a task.

Nothing here knows a provider's payloads: each provider (providers.registry) routes, verifies and parses its
own requests; this module stores them, finds the senders, and applies each item on its own savepoint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from providers.content import MalformedWebhook
from providers.registry import provider_for
from sufrahbot.enqueue import delay_or_log

from .models import WebhookEvent
from .processing import event_close, route_sender, stored_request
from .tasks import process_event

logger = logging.getLogger(__name__)

STORED_HEADERS = (
    "X-Twilio-Signature",
    "I-Twilio-Idempotency-Token",
    "X-Hub-Signature-256",
    "X-Sufrah-Webhook-Token",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-For",
    "Host",
    "User-Agent",
    "Content-Type",
    "Content-Length",
)
# An unverified body is stored up to this size (enough to see what it was); a verified one is stored whole.
MAX_STORED_BODY = 1_000_000
# Larger requests are refused with 413 (WhatsApp webhooks are a few kB; media comes by reference).
MAX_BODY = 10 * 1024 * 1024
# Headers whose values are secrets: stored as "present", never the value.
SECRET_HEADERS = frozenset({"X-Sufrah-Webhook-Token"})


def public_url(request: HttpRequest) -> str:
    """The URL the provider called: PUBLIC_BASE_URL when set, else rebuilt from the (proxied) request."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


def request_url(request: HttpRequest) -> str:
    try:
        return public_url(request)
    except Exception:  # a disallowed Host must still be recorded
        return request.get_full_path()


def request_headers(request: HttpRequest) -> dict[str, str]:
    """The headers a provider's verification may need, with their values (secret ones included)."""
    return {h: request.headers[h] for h in STORED_HEADERS if h in request.headers}


def webhook_event_store(*, provider: str, kind: str, request: HttpRequest, body: bytes) -> WebhookEvent:
    """Write the raw request down before anything else looks at it (autocommitted at once)."""
    return webhook_event_record(
        provider=provider,
        kind=kind,
        url=request_url(request),
        method=request.method or "",
        content_type=request.content_type or "",
        headers=request_headers(request),
        body=body,
    )


def webhook_event_record(
    *, provider: str, kind: str, url: str, method: str, content_type: str, headers: Mapping[str, str], body: bytes
) -> WebhookEvent:
    """The stored copy of one request: secret header values kept only as "(present)", a long body cut."""
    stored_headers = {**headers, **{h: "(present)" for h in SECRET_HEADERS if h in headers}}
    return WebhookEvent.objects.create(
        provider=provider[:16],
        kind=kind,
        url=url,
        method=method,
        content_type=content_type[:200],
        headers=stored_headers,
        body=body[:MAX_STORED_BODY],
        body_size=len(body),
        body_truncated=len(body) > MAX_STORED_BODY,
    )


def webhook_event_too_large(*, provider: str, kind: str, request: HttpRequest, size: int) -> WebhookEvent:
    """The audit row of a request refused for its size: its headers and the first bytes only."""
    event = webhook_event_store(provider=provider, kind=kind, request=request, body=b"")
    event_close(event, WebhookEvent.Status.REJECTED, f"body of {size} bytes or more is over {MAX_BODY}", body_size=size)
    return event


@dataclass
class Verdict:
    http_status: int
    code: str = ""
    message: str = ""


def webhook_event_admit(*, event: WebhookEvent, body: bytes, headers: Mapping[str, str]) -> Verdict:
    """Route, verify and validate a stored request through its provider; a good one is queued after commit.

    `body` and `headers` are the request's as received: the signature is checked against the whole body,
    not against a stored copy that may have been cut.
    """
    provider = provider_for(event.provider)
    request = stored_request(event, body, headers)
    try:
        routes = provider.routes(request)
    except MalformedWebhook as exc:
        event_close(event, WebhookEvent.Status.REJECTED, f"malformed: {exc}")
        return Verdict(400, "malformed", f"Malformed {provider.label} webhook: {exc}.")
    if not routes:
        event_close(event, WebhookEvent.Status.PROCESSED, "nothing for a sender (no message changes)")
        return Verdict(200)
    senders = [s for s in (route_sender(provider, r) for r in routes) if s is not None]
    if not senders:
        keys = ", ".join(r.key for r in routes)
        event_close(event, WebhookEvent.Status.UNROUTABLE, f"no active {provider.label} sender for {keys}")
        return Verdict(404, "unknown_number", f"No restaurant answers on {keys}.")
    sender = senders[0]
    scope = {"sender": sender, "restaurant_id": sender.restaurant_id}
    # One app may sign for several numbers: every routed sender must accept the request (by its own provider,
    # as a console sender speaks Twilio's format with its own secret).
    if not all(provider_for(s.provider).verify(request, s.credentials) for s in senders):
        event_close(event, WebhookEvent.Status.REJECTED, "signature missing or wrong", signature_valid=False, **scope)
        return Verdict(403, "invalid_signature", f"The {provider.signature_header} header is missing or wrong.")
    try:
        provider.parse(request)
    except MalformedWebhook as exc:
        event_close(event, WebhookEvent.Status.REJECTED, f"malformed: {exc}", signature_valid=True, **scope)
        return Verdict(400, "malformed", f"Malformed {provider.label} webhook: {exc}.")
    fields = {"signature_valid": True, **scope}
    if event.body_truncated:
        # Authentic: keep it whole, so processing and replay see every item.
        fields.update(body=body, body_truncated=False)
    WebhookEvent.objects.filter(pk=event.pk).update(**fields)
    transaction.on_commit(lambda: delay_or_log(process_event, event.pk, event_id=event.pk))
    return Verdict(200)


def webhook_events_requeue(*, events) -> int:
    """Process verified events again (the admin's "replay"): safe, since processing is idempotent."""
    event_ids = list(events.filter(signature_valid=True).values_list("pk", flat=True))
    for event_id in event_ids:
        transaction.on_commit(lambda event_id=event_id: delay_or_log(process_event, event_id, event_id=event_id))
    return len(event_ids)
