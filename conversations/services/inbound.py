"""Storing what a customer sends: one row per provider message, exactly once, and the conversation it
belongs to. Answering it is the bot's step (bot.services), run after this commits."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from providers.content import InboundMessage
from restaurants.models import Sender
from sufrahbot.events import publish

from ..models import STATUS_RANK, Conversation, Message, MessageStatus
from ..serializers import conversation_event_data, message_event_data

logger = logging.getLogger(__name__)


def message_receive(*, sender: Sender, inbound: InboundMessage) -> tuple[Message, bool]:
    """Store one inbound message exactly once, marked as awaiting the bot's answer (bot.services).

    Idempotent on (provider, provider_message_id): a storm of duplicate deliveries yields one row. Returns
    (message, created).
    """
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
                "awaiting_bot": True,
            },
        )
        if not created:
            return message, False
        # No row lock: the F() update is atomic, and storing must not wait for the bot answering the last one.
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


def conversation_open(*, sender: Sender, customer_phone: str, customer_name: str = "") -> Conversation:
    """The customer's conversation with the sender's restaurant, started if there is none yet. Atomic on the
    unique (restaurant, customer_phone): concurrent first messages find one conversation."""
    conversation, _ = Conversation.objects.get_or_create(
        restaurant_id=sender.restaurant_id,
        customer_phone=customer_phone,
        defaults={"sender": sender, "customer_name": customer_name[:200], "last_message_at": timezone.now()},
    )
    return conversation
