"""Sending a queued message through its provider, and following its status callbacks."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from providers.content import OutboundContent, SendError
from providers.registry import provider_for
from sufrahbot.events import publish

from ..models import FINAL_STATUSES, STATUS_RANK, Message, MessageStatus
from ..ratelimit import limiter
from ..serializers import message_event_data

logger = logging.getLogger(__name__)

# A send claimed by a worker that then died is taken over after this long.
SEND_CLAIM_LEASE = timedelta(minutes=2)


@dataclass
class DeliveryOutcome:
    """What one delivery attempt came to; `retry_in` set means "call again after that many seconds"."""

    result: str  # sent | skipped | failed | retry | throttled
    retry_in: float | None = None


class UnknownStatus(ValueError):
    """A provider status this project has no place for (e.g. Meta's "played" for voice notes)."""


def _backoff(attempts: int) -> float:
    base = settings.SEND_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(settings.SEND_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter


def _status_callback_url(provider: str) -> str | None:
    return provider_for(provider).status_callback_url(base_url=settings.PUBLIC_BASE_URL)


def message_deliver(*, message_id: int) -> DeliveryOutcome:
    """One attempt at handing a queued message to its provider. Safe to call twice: a message that already
    has a provider id, or that another worker is sending, is left alone."""
    message = Message.objects.select_related("conversation__sender").filter(pk=message_id).first()
    if message is None or message.direction != Message.Direction.OUTBOUND or message.provider_message_id:
        return DeliveryOutcome("skipped")
    sender = message.conversation.sender
    wait = limiter().reserve(f"sender:{sender.pk}", sender.messages_per_minute)
    if wait > 0:
        return DeliveryOutcome("throttled", retry_in=wait)

    # Claim it: queued, or "sending" by a worker whose lease ran out.
    lease_expired = timezone.now() - SEND_CLAIM_LEASE
    claimed = Message.objects.filter(
        Q(status=MessageStatus.QUEUED) | Q(status=MessageStatus.SENDING, updated_at__lt=lease_expired),
        pk=message.pk,
        provider_message_id__isnull=True,
    ).update(
        status=MessageStatus.SENDING,
        status_rank=STATUS_RANK[MessageStatus.SENDING],
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )
    if not claimed:
        return DeliveryOutcome("skipped")
    # Claimed: nobody else writes the row until we are done, so the local copy stays exact.
    message.status, message.status_rank = MessageStatus.SENDING, STATUS_RANK[MessageStatus.SENDING]
    message.attempts += 1
    content = OutboundContent.from_dict(message.content)
    try:
        result = provider_for(message.provider).send(
            sender=sender,
            to=message.conversation.customer_phone,
            content=content,
            status_callback_url=_status_callback_url(message.provider),
        )
    except SendError as exc:
        return _delivery_failed(message, exc)
    rank = STATUS_RANK.get(result.status, STATUS_RANK[MessageStatus.SENT])
    status = result.status if rank >= STATUS_RANK[MessageStatus.SENT] else MessageStatus.SENT
    with transaction.atomic():
        _message_update(
            message,
            provider_message_id=result.provider_message_id,
            status=status,
            status_rank=max(rank, STATUS_RANK[MessageStatus.SENT]),
            sent_at=timezone.now(),
            error_code="",
            error_message="",
        )
        publish(message.restaurant_id, {"type": "message.sent", "message": message_event_data(message)})
    return DeliveryOutcome("sent")


def _message_update(message: Message, **changes) -> None:
    """UPDATE the claimed row and keep the in-memory copy in step (no re-read)."""
    Message.objects.filter(pk=message.pk).update(**changes)
    for field, value in changes.items():
        setattr(message, field, value)


def _delivery_failed(message: Message, exc: SendError) -> DeliveryOutcome:
    if exc.retryable and message.attempts <= settings.SEND_MAX_RETRIES:
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.QUEUED,
            status_rank=STATUS_RANK[MessageStatus.QUEUED],
            error_code=exc.code,
            error_message=exc.message[:2000],
        )
        logger.warning(
            "send failed, will retry", extra={"message_id": message.pk, "code": exc.code, "attempt": message.attempts}
        )
        return DeliveryOutcome("retry", retry_in=exc.retry_after or _backoff(message.attempts))
    with transaction.atomic():
        _message_update(
            message,
            status=MessageStatus.FAILED,
            status_rank=STATUS_RANK[MessageStatus.FAILED],
            error_code=exc.code,
            error_message=exc.message[:2000],
        )
        publish(message.restaurant_id, {"type": "message.status", "message": message_event_data(message)})
    logger.error(
        "send failed for good", extra={"message_id": message.pk, "code": exc.code, "attempts": message.attempts}
    )
    return DeliveryOutcome("failed")


def message_status_update(
    *,
    restaurant_id: int,
    provider: str,
    provider_message_id: str,
    status: str,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """Move a message's status forward only (callbacks arrive out of order); final states stay final.

    Scoped to the restaurant whose sender the callback was verified for: a signed callback of one tenant
    can never touch another tenant's message. Returns whether anything changed; raises Message.DoesNotExist
    for an id this restaurant never sent.
    """
    rank = STATUS_RANK.get(status)
    if rank is None or status == MessageStatus.RECEIVED:
        raise UnknownStatus(f"unknown status {status!r}")
    messages = Message.objects.filter(
        restaurant_id=restaurant_id, provider=provider, provider_message_id=provider_message_id
    )
    with transaction.atomic():
        changes = {"status": status, "status_rank": rank}
        if status in FINAL_STATUSES:
            changes.update(error_code=error_code[:32], error_message=error_message[:2000])
        updated = messages.filter(status_rank__lt=rank).exclude(status__in=FINAL_STATUSES).update(**changes)
        if not updated:
            if not messages.exists():
                raise Message.DoesNotExist(f"no message {provider}:{provider_message_id} of restaurant {restaurant_id}")
            return False
        message = messages.get()
        publish(message.restaurant_id, {"type": "message.status", "message": message_event_data(message)})
    return True
