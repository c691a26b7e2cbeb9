"""Turning a stored, verified webhook into conversation changes: store each inbound message, then let the
bot answer it (two steps, two transactions), and apply status callbacks. Runs in the process_event task."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from django.utils import timezone

from bot.services import inbound_answer
from conversations.content import InboundMessage
from conversations.providers import meta, twilio
from conversations.services.delivery import message_status_update
from conversations.services.inbound import message_receive
from restaurants.selectors import sender_for_phone_number_id

from .models import WebhookEvent

logger = logging.getLogger(__name__)


def event_close(event: WebhookEvent, status: str, error: str = "", **fields) -> None:
    WebhookEvent.objects.filter(pk=event.pk).update(status=status, error=error, processed_at=timezone.now(), **fields)


def _inbound_handle(*, sender, inbound: InboundMessage) -> None:
    """Store, commit, then answer. A replayed event finds the row stored and answers it only if the bot has
    not yet (the message's awaiting_bot flag), so nothing is lost or answered twice."""
    message, _ = message_receive(sender=sender, inbound=inbound)
    inbound_answer(message=message, inbound=inbound)


def _process_twilio(event: WebhookEvent) -> None:
    params = dict(parse_qsl(event.body, keep_blank_values=True))
    if event.kind == WebhookEvent.Kind.MESSAGE:
        _inbound_handle(sender=event.sender, inbound=twilio.parse_inbound(params))
    else:
        _status_apply(twilio.parse_status(params), sender=event.sender)


def _process_meta(event: WebhookEvent) -> None:
    for change in meta.changes(meta.load(event.body)):
        sender = sender_for_phone_number_id(phone_number_id=change.phone_number_id)
        if sender is None:
            logger.warning("meta change for an unknown number skipped", extra={"event_id": event.pk})
            continue
        for inbound in meta.parse_messages(change, to_number=sender.phone_number):
            _inbound_handle(sender=sender, inbound=inbound)
        for update in meta.parse_statuses(change):
            _status_apply(update, sender=sender)


def _status_apply(update, *, sender) -> None:
    message_status_update(
        restaurant_id=sender.restaurant_id,
        provider=update.provider,
        provider_message_id=update.provider_message_id,
        status=update.status,
        error_code=update.error_code,
        error_message=update.error_message,
    )


PROCESSORS = {"twilio": _process_twilio, "meta": _process_meta}


def webhook_event_process(*, event_id: int) -> str:
    """Turn a stored, verified event into conversation changes. Safe to run twice (dedup downstream)."""
    event = WebhookEvent.objects.select_related("sender__restaurant").filter(pk=event_id).first()
    if event is None or event.status not in (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED):
        return "skipped"
    if not event.signature_valid or event.sender is None:
        return "skipped"
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=event.attempts + 1)
    try:
        PROCESSORS[event.provider](event)
    except Exception as exc:
        event_close(event, WebhookEvent.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    event_close(event, WebhookEvent.Status.PROCESSED)
    return "processed"


def webhook_events_stale(*, older_than_seconds: float = 60, max_attempts: int = 5) -> list[int]:
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
