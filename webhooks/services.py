"""Inbound provider webhooks: store first, then check, then hand over to a task (processing.py runs it)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from conversations.content import MalformedWebhook
from conversations.providers import meta, twilio
from restaurants.selectors import sender_for_number, sender_for_phone_number_id

from .models import WebhookEvent
from .processing import event_close
from .tasks import process_event

logger = logging.getLogger(__name__)

STORED_HEADERS = (
    "X-Twilio-Signature",
    "I-Twilio-Idempotency-Token",
    "X-Hub-Signature-256",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-For",
    "Host",
    "User-Agent",
    "Content-Type",
)
MAX_STORED_BODY = 1_000_000
PROVIDER_LABELS = {"twilio": "Twilio", "meta": "Meta"}


def public_url(request: HttpRequest) -> str:
    """The URL the provider called: PUBLIC_BASE_URL when set, else rebuilt from the (proxied) request."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


def webhook_event_store(*, provider: str, kind: str, request: HttpRequest) -> WebhookEvent:
    """Write the raw request down before anything else looks at it (autocommitted at once)."""
    try:
        url = public_url(request)
    except Exception:  # noqa: BLE001 - a disallowed Host must still be recorded
        url = request.get_full_path()
    return WebhookEvent.objects.create(
        provider=provider,
        kind=kind,
        url=url,
        method=request.method or "",
        content_type=request.content_type or "",
        headers={h: request.headers[h] for h in STORED_HEADERS if h in request.headers},
        body=request.body[:MAX_STORED_BODY].decode("utf-8", errors="replace"),
    )


@dataclass
class Verdict:
    http_status: int
    code: str = ""
    message: str = ""


def twilio_event_admit(*, event: WebhookEvent) -> Verdict:
    """Route and verify a stored Twilio request; a valid one is queued for processing after commit."""
    if "application/x-www-form-urlencoded" not in event.content_type:
        event_close(event, WebhookEvent.Status.REJECTED, "body is not form-encoded")
        return Verdict(400, "malformed", "Expected a form-encoded Twilio webhook.")
    params = dict(parse_qsl(event.body, keep_blank_values=True))
    try:
        number = twilio.routing_number(params, kind=event.kind)
    except MalformedWebhook as exc:
        event_close(event, WebhookEvent.Status.REJECTED, f"malformed: {exc}")
        return Verdict(400, "malformed", f"Malformed Twilio webhook: {exc}.")
    sender = sender_for_number(phone_number=number)
    # Console senders (the demo and the simulator) speak Twilio's webhook format, signed with their own secret.
    if sender is None or sender.provider not in ("twilio", "console"):
        event_close(event, WebhookEvent.Status.UNROUTABLE, f"no active Twilio sender for {number}")
        return Verdict(404, "unknown_number", f"No restaurant answers on {number}.")
    valid = twilio.verify_signature(
        auth_token=sender.twilio_auth_token,
        url=event.url,
        params=params,
        signature=event.headers.get(twilio.SIGNATURE_HEADER),
    )
    return _admit_verified(
        event,
        sender,
        valid=valid,
        signature_header=twilio.SIGNATURE_HEADER,
        validate=lambda: (
            twilio.parse_inbound(params) if event.kind == WebhookEvent.Kind.MESSAGE else twilio.parse_status(params)
        ),
    )


def meta_verification_answer(*, mode: str | None, token: str | None, challenge: str | None) -> str | None:
    """The GET handshake: the challenge when the verify token matches, else None (→ 403)."""
    expected = settings.META_VERIFY_TOKEN
    if mode == "subscribe" and expected and token and hmac.compare_digest(token, expected) and challenge:
        return challenge
    return None


def meta_event_admit(*, event: WebhookEvent) -> Verdict:
    """Route (by metadata.phone_number_id) and verify a stored Meta webhook; queue it after commit."""
    try:
        payload = meta.load(event.body)
        number_ids = {change.phone_number_id for change in meta.changes(payload)}
    except MalformedWebhook as exc:
        event_close(event, WebhookEvent.Status.REJECTED, f"malformed: {exc}")
        return Verdict(400, "malformed", f"Malformed Meta webhook: {exc}.")
    if not number_ids:
        event_close(event, WebhookEvent.Status.PROCESSED, "no message changes")
        return Verdict(200)
    senders = [s for s in (sender_for_phone_number_id(phone_number_id=i) for i in sorted(number_ids)) if s]
    if not senders:
        event_close(event, WebhookEvent.Status.UNROUTABLE, f"no active Meta sender for {', '.join(sorted(number_ids))}")
        return Verdict(404, "unknown_number", "No restaurant answers on this phone number id.")
    sender = senders[0]
    # One app signs for all its numbers: every routed sender must accept the signature.
    valid = all(
        meta.verify_signature(
            app_secret=s.meta_app_secret, body=event.body.encode(), signature=event.headers.get(meta.SIGNATURE_HEADER)
        )
        for s in senders
    )

    def validate() -> None:
        for change in meta.changes(payload):
            meta.parse_messages(change, to_number=sender.phone_number)
            meta.parse_statuses(change)

    return _admit_verified(event, sender, valid=valid, signature_header=meta.SIGNATURE_HEADER, validate=validate)


def _admit_verified(
    event: WebhookEvent, sender, *, valid: bool, signature_header: str, validate: Callable[[], object]
) -> Verdict:
    """The common tail of every provider's admission: signature verdict, full parse, then queue after commit."""
    scope = {"sender": sender, "restaurant_id": sender.restaurant_id}
    if not valid:
        event_close(event, WebhookEvent.Status.REJECTED, "signature missing or wrong", signature_valid=False, **scope)
        return Verdict(403, "invalid_signature", f"The {signature_header} header is missing or wrong.")
    try:
        validate()
    except MalformedWebhook as exc:
        event_close(event, WebhookEvent.Status.REJECTED, f"malformed: {exc}", signature_valid=True, **scope)
        return Verdict(400, "malformed", f"Malformed {PROVIDER_LABELS[event.provider]} webhook: {exc}.")
    WebhookEvent.objects.filter(pk=event.pk).update(signature_valid=True, **scope)
    transaction.on_commit(lambda: process_event.delay(event.pk))
    return Verdict(200)


def webhook_events_requeue(*, events) -> int:
    """Process verified events again (the admin's "replay"): safe, since processing is idempotent."""
    event_ids = list(events.filter(signature_valid=True).values_list("pk", flat=True))
    for event_id in event_ids:
        transaction.on_commit(lambda event_id=event_id: process_event.delay(event_id))
    return len(event_ids)
