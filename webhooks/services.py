"""Inbound provider webhooks: route and verify through the provider, store with the verdict, hand over to a task.

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
from django.utils import timezone

from providers.base import Provider, Route, StoredRequest, sender_lookup
from providers.content import MalformedWebhook
from providers.registry import provider_for
from restaurants.routing import SenderRoute, sender_routes
from sufrahbot.db import insert_prepared
from sufrahbot.enqueue import delay_or_log

from .models import WebhookEvent
from .tasks import process_event, webhook_batches

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


@dataclass
class Verdict:
    http_status: int
    code: str = ""
    message: str = ""


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


def webhook_receive_request(
    *, provider: str, kind: str, request: HttpRequest, body: bytes
) -> tuple[WebhookEvent, Verdict]:
    """The webhook view's entry: judge the live request, then store it once with its verdict."""
    return webhook_receive(provider=provider, kind=kind, **_request_fields(request), body=body)


def _request_fields(request: HttpRequest) -> dict:
    """What is stored of a live request besides its body."""
    return {
        "url": request_url(request),
        "method": request.method or "",
        "content_type": request.content_type or "",
        "headers": request_headers(request),
    }


def webhook_receive(
    *, provider: str, kind: str, url: str, method: str, content_type: str, headers: Mapping[str, str], body: bytes
) -> tuple[WebhookEvent, Verdict]:
    """Route, verify and validate a request through its provider, then write it down (one INSERT, its
    verdict included); a good one is queued after commit.

    The judging reads no database when the sender's route is cached (restaurants.routing), so one request
    is one round trip. It is judged before it is stored, but answered only after: a crash in between
    answers nothing, and the provider sends it again. The signature is checked against the whole body as
    received, not against a stored copy that may have been cut.
    """
    judged_provider = provider_for(provider)
    request = StoredRequest(
        kind=kind, url=url, method=method, content_type=content_type, headers=dict(headers), body=body
    )
    verdict, fields = _judge(judged_provider, request)
    event = webhook_event_record(
        provider=provider,
        kind=kind,
        url=url,
        method=method,
        content_type=content_type,
        headers=headers,
        body=body,
        **fields,
    )
    if fields.get("status") is None and fields.get("signature_valid"):
        transaction.on_commit(lambda: webhook_batches.add(event.pk, event_id=event.pk))
    return event, verdict


def _closed(status: str, error: str, **fields) -> dict:
    return {"status": status, "error": error, "processed_at": timezone.now(), **fields}


def _judge(provider: Provider, request: StoredRequest) -> tuple[Verdict, dict]:
    """(the answer, the fields the stored row gets): rejected, unroutable, nothing to do, or admitted."""
    try:
        routes = provider.routes(request)
    except MalformedWebhook as exc:
        return Verdict(400, "malformed", f"Malformed {provider.label} webhook: {exc}."), _closed(
            WebhookEvent.Status.REJECTED, f"malformed: {exc}"
        )
    if not routes:
        return Verdict(200), _closed(WebhookEvent.Status.PROCESSED, "nothing for a sender (no message changes)")
    senders = _routed(provider, routes)
    if not senders:
        keys = ", ".join(r.key for r in routes)
        return Verdict(404, "unknown_number", f"No restaurant answers on {keys}."), _closed(
            WebhookEvent.Status.UNROUTABLE, f"no active {provider.label} sender for {keys}"
        )
    scope = {"sender_id": senders[0].sender_id, "restaurant_id": senders[0].restaurant_id}
    # One app may sign for several numbers, and several restaurants' senders may sit on one business account:
    # every routed sender must accept the request (by its own provider, as a console sender speaks Twilio's
    # format with its own secret), so no tenant's messages or templates move on another's signature. A cached
    # secret that fails is read again first: it may have been rotated in another process.
    if not _verified(provider, request, senders):
        senders = _routed(provider, routes, fresh=True)
        if not senders or not _verified(provider, request, senders):
            return Verdict(403, "invalid_signature", f"The {provider.signature_header} header is missing or wrong."), (
                _closed(WebhookEvent.Status.REJECTED, "signature missing or wrong", signature_valid=False, **scope)
            )
    try:
        provider.parse(request)
    except MalformedWebhook as exc:
        return Verdict(400, "malformed", f"Malformed {provider.label} webhook: {exc}."), _closed(
            WebhookEvent.Status.REJECTED, f"malformed: {exc}", signature_valid=True, **scope
        )
    return Verdict(200), {"signature_valid": True, **scope}


def _routed(provider: Provider, routes: list[Route], *, fresh: bool = False) -> list[SenderRoute]:
    """The senders of every route, each once (a business account's route finds all the senders on it)."""
    found: dict[int, SenderRoute] = {}
    for route in routes:
        for sender in sender_routes(**sender_lookup(provider, route), fresh=fresh):
            found.setdefault(sender.sender_id, sender)
    return list(found.values())


def _verified(provider: Provider, request: StoredRequest, senders: list[SenderRoute]) -> bool:
    return all(provider_for(s.provider).verify(request, s.credentials) for s in senders)


def webhook_event_record(
    *,
    provider: str,
    kind: str,
    url: str,
    method: str,
    content_type: str,
    headers: Mapping[str, str],
    body: bytes,
    **fields,
) -> WebhookEvent:
    """The stored copy of one request: secret header values kept only as "(present)"; the body of an
    unverified request cut at MAX_STORED_BODY (enough to see what it was), a verified one kept whole."""
    stored_headers = {**headers, **{h: "(present)" for h in SECRET_HEADERS if h in headers}}
    cut = len(body) > MAX_STORED_BODY and not fields.get("signature_valid")
    event = WebhookEvent(
        provider=provider[:16],
        kind=kind,
        url=url,
        method=method,
        content_type=content_type[:200],
        headers=stored_headers,
        body=body[:MAX_STORED_BODY] if cut else body,
        body_size=fields.pop("body_size", len(body)),
        body_truncated=cut,
        **fields,
    )
    return insert_prepared(event)  # one row a request: the statement is built once (WebhookEvent has no signals)


def webhook_event_too_large(*, provider: str, kind: str, request: HttpRequest, size: int) -> WebhookEvent:
    """The audit row of a request refused for its size: its headers, no body."""
    return webhook_event_record(
        provider=provider,
        kind=kind,
        **_request_fields(request),
        body=b"",
        body_size=size,
        **_closed(WebhookEvent.Status.REJECTED, f"body of {size} bytes or more is over {MAX_BODY}"),
    )


def webhook_events_requeue(*, events) -> int:
    """Process verified events again (the admin's "replay"): safe, since processing is idempotent."""
    event_ids = list(events.filter(signature_valid=True).values_list("pk", flat=True))
    for event_id in event_ids:
        transaction.on_commit(lambda event_id=event_id: delay_or_log(process_event, event_id, event_id=event_id))
    return len(event_ids)
