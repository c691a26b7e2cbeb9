"""Turning a stored, verified webhook into conversation changes, one item at a time: store each inbound
message, then let the bot answer it (two steps, two transactions), and apply status callbacks. An item that
fails is recorded with its reason and does not stop the others. Runs in the process_event task."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bot.services import inbound_answer
from conversations.models import Message, MessageMedia
from conversations.services.delivery import UnknownStatus, message_status_update
from conversations.services.inbound import message_receive
from conversations.tasks import fetch_message_media
from providers.base import Item, Provider, Route, StoredRequest, sender_lookup
from providers.content import InboundMessage, ItemFailure, MalformedWebhook, StatusUpdate, TemplateStatusChange
from providers.registry import provider_for
from restaurants.models import Sender
from restaurants.selectors import senders_for_route
from sufrahbot.db import PreparedUpdateSelect, update_prepared
from sufrahbot.enqueue import delay_or_log
from sufrahbot.events import publishing_unit
from sufrahbot.logging import bind
from sufrahbot.metrics import BOT_REPLY_SECONDS, DEAD_LETTERS, MESSAGES
from templates.services import template_status_webhook_apply

from .models import WebhookEvent

logger = logging.getLogger(__name__)


def event_close(event: WebhookEvent, status: str, error: str = "", **fields) -> None:
    update_prepared(WebhookEvent, {"pk": event.pk}, status=status, error=error, processed_at=timezone.now(), **fields)


def stored_request(
    event: WebhookEvent, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> StoredRequest:
    """What the provider sees of a stored event. At admission `body` and `headers` are the live request's:
    the whole body when the stored copy was cut, and header values that are stored only as "(present)"."""
    return StoredRequest(
        kind=event.kind,
        url=event.url,
        method=event.method,
        content_type=event.content_type,
        headers=event.headers if headers is None else headers,
        body=bytes(event.body) if body is None else body,
    )


def route_senders(provider: Provider, route: Route) -> list[Sender]:
    """The active senders a route points at: one for a number or routing id, every sender on a business
    account (restaurants may share one WhatsApp Business Account)."""
    return senders_for_route(**sender_lookup(provider, route))


def _admitted_sender(event: WebhookEvent, provider: Provider, route: Route) -> Sender | None:
    """The event's own sender (routed and loaded at admission, with its restaurant) when the route points at
    it and both are still active: what route_senders would find, without the query."""
    sender = event.sender
    if sender is None or not (sender.active and sender.restaurant.active):
        return None
    if sender.provider not in (provider.name, *provider.webhook_aliases):
        return None
    key = sender.phone_number if route.by == "number" else sender.routing_id
    return sender if key and key == route.key else None


def _route_senders_now(event: WebhookEvent, provider: Provider, route: Route) -> list[Sender]:
    """The senders an item of a verified event is applied for. A business account's senders are looked up
    again and each must still accept the stored signature: one added to the account (or given another app
    secret) since admission was never checked against this request, so it gets nothing from it."""
    if route.by != "account":
        admitted = _admitted_sender(event, provider, route)
        return [admitted] if admitted is not None else route_senders(provider, route)
    request = stored_request(event)
    return [s for s in route_senders(provider, route) if provider_for(s.provider).verify(request, s.credentials)]


def _item_ref(item: Item) -> dict:
    if isinstance(item, ItemFailure):
        return {"type": "unreadable", "id": item.ref}
    if isinstance(item, InboundMessage):
        return {"type": "message", "id": item.provider_message_id, "kind": item.kind}
    if isinstance(item, TemplateStatusChange):
        return {"type": "template_status", "id": item.template_ref, "event": str(item.value.get("event", ""))}
    record = {"type": "status", "id": item.provider_message_id, "status": item.status}
    if item.errors:
        # Every error the provider gave (the message keeps the first code and text when it failed).
        record["errors"] = item.errors
    return record


def _template_status_apply(item: TemplateStatusChange, senders: list[Sender]) -> tuple[str, str]:
    """News about a template of a business account, for every restaurant with a sender on that account: each
    restaurant's own template of that name, language and Meta id follows, on its own savepoint; nobody
    else's is looked at."""
    restaurant_ids = sorted({s.restaurant_id for s in senders})
    applied = 0
    for restaurant_id in restaurant_ids:
        with transaction.atomic():
            applied += template_status_webhook_apply(restaurant_id=restaurant_id, value=item.value)
    if not applied:
        return "skipped", "no template of these restaurants with that name, language and id, or no change"
    if len(restaurant_ids) == 1:
        return "applied", ""
    return "applied", f"{applied} of {len(restaurant_ids)} restaurants on the account"


def _item_apply(item: Item, sender: Sender) -> tuple[str, str]:
    """(outcome, reason) of one item; raises on a real failure (its own transactions roll it back)."""
    if isinstance(item, ItemFailure):
        return "skipped", item.reason
    if isinstance(item, InboundMessage):
        # Store, commit, then answer. A replayed event finds the row stored and answers it only if the bot has
        # not yet (the message's awaiting_bot flag), so nothing is lost or answered twice.
        message, created = message_receive(sender=sender, inbound=item)  # its own transaction
        bind(restaurant_id=message.restaurant_id, conversation_id=message.conversation_id, message_id=message.pk)
        if created:
            MESSAGES.labels("in", message.status).inc()
        if created and item.media:
            # Its files are fetched on the outbound pool (provider I/O); the media sweep covers a lost enqueue.
            pending = message.media_files.filter(status=MessageMedia.Status.PENDING).values_list("pk", flat=True)
            for media_id in pending:
                delay_or_log(fetch_message_media, media_id, media_id=media_id)
        started = time.perf_counter()
        if inbound_answer(message=message, inbound=item):
            BOT_REPLY_SECONDS.observe(time.perf_counter() - started)
        return ("stored", "") if created else ("duplicate", "already stored")
    assert isinstance(item, StatusUpdate)
    try:
        with transaction.atomic():
            changed = message_status_update(
                restaurant_id=sender.restaurant_id,
                provider=item.provider,
                provider_message_id=item.provider_message_id,
                status=item.status,
                error_code=item.error_code,
                error_message=item.error_message,
            )
    except UnknownStatus:
        # e.g. Meta's "played" for voice notes: nothing to move, worth knowing it came.
        return "skipped", f"unknown status {item.status!r}"
    except Message.DoesNotExist:
        # Sent from the WhatsApp Business app or another integration on the same number.
        return "skipped", "not a message of ours"
    return ("applied", "") if changed else ("unchanged", "not newer than the stored status")


# The event claimed for processing, once per task: its attempt counted and the row read with its sender and
# restaurant in one statement, and only if it is still to do (received, or failed and retried), verified and
# routed. Built and compiled once per process (sufrahbot.db.PreparedUpdateSelect).
_event_claim = PreparedUpdateSelect(
    lambda *, event_id: WebhookEvent.objects.select_related("sender__restaurant").filter(pk=event_id),
    lambda *, event_id: (
        WebhookEvent.objects.filter(
            pk=event_id,
            status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED],
            signature_valid=True,
            sender__isnull=False,
        ),
        {"attempts": F("attempts") + 1},
    ),
    "event_id",
)


def webhook_event_process(*, event_id: int) -> str:
    """Turn a stored, verified event into conversation changes, one item at a time, each on its own
    savepoint: an item that fails is recorded with its reason and the others still go through. Safe to run
    twice (messages are stored once; statuses only move forward). One publishing unit: the events it
    publishes share their sinks' lookups (sufrahbot.events.publishing_unit)."""
    with publishing_unit():
        return _event_process(event_id)


def _event_process(event_id: int) -> str:
    event = _event_claim.fetch_one(event_id=event_id)  # gone, done, unverified or unrouted: None
    if event is None:
        return "skipped"
    bind(restaurant_id=event.restaurant_id, webhook_event_id=event.pk)
    provider = provider_for(event.provider)
    try:
        parsed = provider.parse(stored_request(event))
    except MalformedWebhook as exc:
        event_close(event, WebhookEvent.Status.FAILED, f"malformed: {exc}")
        return "failed"
    senders: dict[Route, list[Sender]] = {}
    outcomes, failures = [], []
    for route, item in parsed.items:
        if route not in senders:
            senders[route] = _route_senders_now(event, provider, route)
        routed = senders[route]
        record = {**_item_ref(item), "route": route.key}
        if not routed:
            record.update(outcome="skipped", reason=f"no active sender for {route.key}")
        else:
            try:
                if isinstance(item, TemplateStatusChange):
                    outcome, reason = _template_status_apply(item, routed)
                else:
                    outcome, reason = _item_apply(item, routed[0])
                record.update(outcome=outcome, reason=reason)
            except Exception as exc:  # recorded; the other items go on
                logger.exception("webhook item failed", extra={"event_id": event.pk, "item": record["id"]})
                record.update(outcome="failed", reason=f"{type(exc).__name__}: {exc}"[:500])
                failures.append(record)
        outcomes.append(record)
    fields = {"items": outcomes, "provider_errors": parsed.errors}
    if failures:
        summary = "; ".join(f"{r['id']}: {r['reason']}" for r in failures)
        event_close(event, WebhookEvent.Status.FAILED, f"{len(failures)} item(s) failed: {summary}"[:2000], **fields)
        if event.attempts >= MAX_ATTEMPTS:  # this attempt counted
            DEAD_LETTERS.labels("webhook").inc()  # the replay sweep stops retaking it
        return "failed"
    event_close(event, WebhookEvent.Status.PROCESSED, **fields)
    return "processed"


MAX_ATTEMPTS = 5


def webhook_events_stale(*, older_than_seconds: float = 60, max_attempts: int = MAX_ATTEMPTS) -> list[int]:
    """Verified events that never finished (a worker died, a task was lost, a transient error)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    return list(
        WebhookEvent.objects.filter(
            status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED],
            signature_valid=True,
            received_at__lt=cutoff,
            attempts__lt=max_attempts,
        ).values_list("pk", flat=True)[:500]
    )
