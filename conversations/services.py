"""Writes of the conversations room: receiving, sending and tracking WhatsApp messages."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from restaurants.models import Sender
from sufrahbot.events import publish

from .content import InboundMessage, OutboundContent, SendError
from .models import FINAL_STATUSES, STATUS_RANK, BotSession, Conversation, Message, MessageStatus
from .providers import provider_for
from .ratelimit import limiter
from .serializers import conversation_event_data, message_event_data

logger = logging.getLogger(__name__)

# A send claimed by a worker that then died is taken over after this long.
SEND_CLAIM_LEASE = timedelta(minutes=2)


class OutsideServiceWindow(Exception):
    """Free-form messages may only go to customers who wrote within the last 24 hours."""


def service_window_open(*, conversation: Conversation, at=None) -> bool:
    at = at or timezone.now()
    last = conversation.last_inbound_at
    return last is not None and at - last < settings.CUSTOMER_SERVICE_WINDOW


# --- inbound ------------------------------------------------------------------------------------------


def message_receive(*, sender: Sender, inbound: InboundMessage) -> tuple[Message, bool]:
    """Store one inbound message exactly once and let the bot answer it.

    Idempotent on (provider, provider_message_id): a storm of duplicate deliveries yields one row, and only
    the delivery that inserted it runs the bot. Returns (message, created).
    """
    from .replies import reply_to_inbound  # the bot engine's door; imported late to keep the flow one-way

    inbound = inbound.sanitized()
    now = timezone.now()
    with transaction.atomic():
        conversation = conversation_open(
            sender=sender, customer_phone=inbound.from_number, customer_name=inbound.profile_name
        )
        message, created = Message.objects.get_or_create(
            provider=inbound.provider,
            provider_message_id=inbound.provider_message_id,
            defaults={
                "restaurant_id": sender.restaurant_id,
                "conversation": conversation,
                "direction": Message.Direction.INBOUND,
                "kind": inbound.kind,
                "body": inbound.summary(),
                "content": _inbound_content(inbound),
                "status": MessageStatus.RECEIVED,
                "status_rank": STATUS_RANK[MessageStatus.RECEIVED],
            },
        )
        if not created:
            return message, False
        # Lock the conversation so two different messages of one customer are answered one after the other.
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        updates = {
            "unread_count": F("unread_count") + 1,
            "last_inbound_at": now,
            "last_message_at": now,
            "sender": sender,
            "status": Conversation.Status.OPEN,
        }
        if inbound.profile_name:
            updates["customer_name"] = inbound.profile_name[:200]
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
        conversation.refresh_from_db()
        publish(conversation.restaurant_id, {"type": "message.received", "message": message_event_data(message)})
        publish(
            conversation.restaurant_id,
            {"type": "conversation.updated", "conversation": conversation_event_data(conversation)},
        )
        reply_to_inbound(conversation=conversation, message=message, inbound=inbound)
    return message, True


def _inbound_content(inbound: InboundMessage) -> dict:
    content: dict = {}
    if inbound.reply_id:
        content["reply_id"] = inbound.reply_id
    if inbound.latitude is not None:
        content["location"] = {"latitude": inbound.latitude, "longitude": inbound.longitude, "address": inbound.address}
    if inbound.media:
        content["media"] = inbound.media
    return content


# --- outbound -----------------------------------------------------------------------------------------


def message_send(
    *,
    conversation: Conversation,
    content: OutboundContent,
    sent_by=None,
    idempotency_key: str | None = None,
    require_window: bool = True,
) -> Message:
    """Queue one outbound message; a worker sends it after commit.

    Free-form content outside the 24-hour window is refused (templates are exempt). With an idempotency
    key, the same key twice returns the first message and sends once.
    """
    message, _ = message_queue(
        conversation=conversation,
        content=content,
        sent_by=sent_by,
        idempotency_key=idempotency_key,
        require_window=require_window,
    )
    return message


def message_queue(
    *,
    conversation: Conversation,
    content: OutboundContent,
    sent_by=None,
    idempotency_key: str | None = None,
    require_window: bool = True,
) -> tuple[Message, bool]:
    """message_send, also saying whether this call queued the message (False: the idempotency key's first
    message is returned and nothing more is sent)."""
    from .tasks import send_message

    if idempotency_key:
        existing = Message.objects.filter(conversation=conversation, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    if require_window and content.kind != "template" and not service_window_open(conversation=conversation):
        raise OutsideServiceWindow(
            "The customer's last message is more than 24 hours old: only an approved template may be sent."
        )
    fields = {
        "restaurant_id": conversation.restaurant_id,
        "direction": Message.Direction.OUTBOUND,
        "provider": conversation.sender.provider,
        "kind": content.kind,
        "body": content.body,
        "content": content.to_dict(),
        "status": MessageStatus.QUEUED,
        "status_rank": STATUS_RANK[MessageStatus.QUEUED],
        "sent_by": sent_by,
    }
    with transaction.atomic():
        if idempotency_key:
            # Atomic on the unique (conversation, idempotency_key): two racing requests send once.
            message, created = Message.objects.get_or_create(
                conversation=conversation, idempotency_key=idempotency_key, defaults=fields
            )
        else:
            message, created = Message.objects.create(conversation=conversation, **fields), True
        if created:
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created_at)
            if sent_by is not None:
                Conversation.objects.filter(pk=conversation.pk, first_response_at__isnull=True).update(
                    first_response_at=message.created_at
                )
                # A person answering takes the conversation over: the bot stays quiet until resumed.
                conversation_handoff(conversation=conversation, by=sent_by)
            transaction.on_commit(lambda: send_message.delay(message.pk))
    return message, created


@dataclass
class DeliveryOutcome:
    """What one delivery attempt came to; `retry_in` set means "call again after that many seconds"."""

    result: str  # sent | skipped | failed | retry | throttled
    retry_in: float | None = None


def _backoff(attempts: int) -> float:
    base = settings.SEND_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(settings.SEND_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter


def _status_callback_url(provider: str) -> str | None:
    if provider == "twilio" and settings.PUBLIC_BASE_URL:
        return f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/status/"
    return None


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


def message_retry(*, message: Message) -> bool:
    """Put a failed outbound message back in the queue (the admin's "retry" on the dead letter)."""
    from .tasks import send_message

    updated = Message.objects.filter(
        pk=message.pk,
        direction=Message.Direction.OUTBOUND,
        status=MessageStatus.FAILED,
        provider_message_id__isnull=True,
    ).update(status=MessageStatus.QUEUED, status_rank=STATUS_RANK[MessageStatus.QUEUED], attempts=0)
    if updated:
        transaction.on_commit(lambda: send_message.delay(message.pk))
    return bool(updated)


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
    if rank is None:
        raise ValueError(f"unknown status {status!r}")
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


# --- staff actions from the dashboard API (conversation_update, conversation_reply) ----------------------

_UNSET = object()


def conversation_update(
    *,
    conversation: Conversation,
    by,
    status: str | None = None,
    assignee=_UNSET,
    bot_paused: bool | None = None,
    mark_read: bool = False,
) -> Conversation:
    """Change what staff may change on a conversation, then announce it ("conversation.updated").

    `assignee` is a user who is staff of the conversation's restaurant, or None to unassign; leave it out to
    keep the current one. `bot_paused` goes through conversation_handoff / conversation_bot_resume.
    `mark_read` zeroes the unread count. `by` is the acting user (for the log).
    """
    from django.core.exceptions import ValidationError

    from restaurants.models import StaffMembership

    changes: dict = {}
    if status is not None:
        if status not in Conversation.Status.values:
            raise ValidationError({"status": f"Must be one of {', '.join(Conversation.Status.values)}."})
        changes["status"] = status
    if assignee is not _UNSET:
        if assignee is not None and not (
            assignee.is_active
            and StaffMembership.objects.filter(user=assignee, restaurant_id=conversation.restaurant_id).exists()
        ):
            raise ValidationError({"assignee": "Not an active staff member of this restaurant."})
        changes["assignee"] = assignee
    if mark_read:
        changes["unread_count"] = 0
    with transaction.atomic():
        if changes:
            Conversation.objects.filter(pk=conversation.pk).update(**changes)
            conversation.refresh_from_db()
            publish(
                conversation.restaurant_id,
                {"type": "conversation.updated", "conversation": conversation_event_data(conversation)},
            )
            logger.info(
                "conversation updated",
                extra={
                    "conversation_id": conversation.pk,
                    "by_user_id": getattr(by, "pk", None),
                    "fields": sorted(changes),
                },
            )
        if bot_paused is True:
            conversation_handoff(conversation=conversation, by=by)
        elif bot_paused is False:
            conversation_bot_resume(conversation=conversation, by=by)
    return conversation


def conversation_reply(
    *, conversation: Conversation, body: str, sent_by, idempotency_key: str | None = None
) -> tuple[Message, bool]:
    """A staff member's free-text reply, queued through the outbound path (message_send also hands the
    conversation over from the bot). Returns (message, created): an `idempotency_key` seen before gives the
    first message and False, sending nothing. Raises OutsideServiceWindow outside the 24-hour window."""
    return message_queue(
        conversation=conversation,
        content=OutboundContent.text(body),
        sent_by=sent_by,
        idempotency_key=idempotency_key,
    )


# --- the bot and the people (handoff) -----------------------------------------------------------------


def conversation_handoff(*, conversation: Conversation, by=None) -> Conversation:
    """Hand the conversation to staff: the bot says nothing in it until someone resumes it."""
    return _bot_paused_set(conversation=conversation, paused=True, by=by)


def conversation_bot_resume(*, conversation: Conversation, by=None) -> Conversation:
    """Give the conversation back to the bot; it answers the customer's next message."""
    return _bot_paused_set(conversation=conversation, paused=False, by=by)


def _bot_paused_set(*, conversation: Conversation, paused: bool, by) -> Conversation:
    with transaction.atomic():
        changed = Conversation.objects.filter(pk=conversation.pk, bot_paused=not paused).update(bot_paused=paused)
        conversation.bot_paused = paused
        if changed:
            conversation.refresh_from_db()
            publish(
                conversation.restaurant_id,
                {"type": "conversation.updated", "conversation": conversation_event_data(conversation)},
            )
            logger.info(
                "bot paused" if paused else "bot resumed",
                extra={"conversation_id": conversation.pk, "by_user_id": getattr(by, "pk", None)},
            )
    return conversation


def conversation_language_set(*, conversation: Conversation, language: str) -> Conversation:
    """The language the bot speaks with this customer (the bot's own session follows it)."""
    if language not in ("ar", "en"):
        raise ValueError(f"unsupported language {language!r}")
    with transaction.atomic():
        changed = Conversation.objects.filter(pk=conversation.pk).exclude(language=language).update(language=language)
        conversation.language = language
        session, _ = BotSession.objects.select_for_update().get_or_create(conversation=conversation)
        if session.state.get("lang") != language:
            session.state = {**session.state, "lang": language}
            session.save(update_fields=["state", "updated_at"])
        if changed:
            conversation.refresh_from_db()
            publish(
                conversation.restaurant_id,
                {"type": "conversation.updated", "conversation": conversation_event_data(conversation)},
            )
    return conversation


def conversation_open(*, sender: Sender, customer_phone: str, customer_name: str = "") -> Conversation:
    """The customer's conversation with the sender's restaurant, started if there is none yet. Atomic on the
    unique (restaurant, customer_phone): concurrent first messages find one conversation."""
    conversation, _ = Conversation.objects.get_or_create(
        restaurant_id=sender.restaurant_id,
        customer_phone=customer_phone,
        defaults={"sender": sender, "customer_name": customer_name[:200], "last_message_at": timezone.now()},
    )
    return conversation
