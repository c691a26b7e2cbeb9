"""Storing what a customer sends: one row per provider message, exactly once, and the conversation it
belongs to. Answering it is the bot's step (bot.services), run after this commits."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from providers.content import InboundMessage
from providers.phone import whatsapp_identity
from restaurants.models import Sender
from restaurants.plans import usage_inbound_record
from sufrahbot.db import insert_unless_stored, upsert_returning
from sufrahbot.events import publish

from ..events import conversation_event_data, message_event_data
from ..models import STATUS_RANK, Conversation, Message, MessageStatus
from .media import message_media_records

logger = logging.getLogger(__name__)


class _AlreadyStored(Exception):
    """The message was stored by an earlier delivery: undo this one's conversation update."""


def message_receive(*, sender: Sender, inbound: InboundMessage) -> tuple[Message, bool]:
    """Store one inbound message exactly once, marked as awaiting the bot's answer (bot.services).

    Idempotent on (provider, provider_message_id): a storm of duplicate deliveries yields one row. Returns
    (message, created). Two statements for a new message: the conversation upserted with its counters, the
    message inserted unless stored already (then the upsert is rolled back and the stored row returned).
    """
    inbound = inbound.sanitized()
    try:
        with transaction.atomic():
            return _message_store(sender=sender, inbound=inbound), True
    except _AlreadyStored:
        pass
    message = Message.objects.get(provider=inbound.provider, provider_message_id=inbound.provider_message_id)
    return message, False


def _message_store(*, sender: Sender, inbound: InboundMessage) -> Message:
    now = timezone.now()
    # No row lock taken first: the upsert locks the conversation as the counters' UPDATE always did, and
    # storing must not wait for more than that.
    conversation = _conversation_upsert(sender=sender, inbound=inbound, now=now)
    # Counted against the plan before the insert: a duplicate delivery rolls the count back with its upsert.
    # Over the plan the message is flagged, and still stored and answered.
    opens = conversation.window_opened_at == now  # this message opened a new 24-hour window
    over_plan = usage_inbound_record(restaurant=sender.restaurant, opens_conversation=opens)
    message = Message(
        restaurant_id=sender.restaurant_id,
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        provider=inbound.provider,
        provider_message_id=inbound.provider_message_id,
        kind=inbound.kind,
        body=inbound.summary(),
        content=_inbound_content(inbound),
        status=MessageStatus.RECEIVED,
        status_rank=STATUS_RANK[MessageStatus.RECEIVED],
        awaiting_bot=True,
        over_plan=over_plan,
    )
    if not insert_unless_stored(message):
        raise _AlreadyStored
    if inbound.media:
        # Fetched and kept by conversations.tasks.fetch_message_media once this commits.
        message_media_records(message=message, sender=sender, media=inbound.media)
    if inbound.kind in ("edit", "revoke"):
        _original_update(conversation=conversation, inbound=inbound, by=message)
    elif inbound.kind == "system" and inbound.details.get("system_type") == "user_changed_number":
        conversation = _identity_change(conversation=conversation, inbound=inbound)
    message.conversation = conversation
    publish(conversation.restaurant_id, {"type": "message.received", "message": message_event_data(message)})
    publish(
        conversation.restaurant_id,
        {"type": "conversation.updated", "conversation": conversation_event_data(conversation)},
    )
    return message


def _conversation_upsert(*, sender: Sender, inbound: InboundMessage, now) -> Conversation:
    """The customer's conversation (conversation_open), with this message counted: unread, last inbound,
    the sender it came to, reopened, the customer's WhatsApp name when it gave one. One statement."""
    table = Conversation._meta.db_table
    assignments = [
        f'"unread_count" = "{table}"."unread_count" + 1',
        '"last_inbound_at" = EXCLUDED."last_inbound_at"',
        '"last_message_at" = EXCLUDED."last_message_at"',
        '"sender_id" = EXCLUDED."sender_id"',
        '"status" = EXCLUDED."status"',
    ]
    if inbound.profile_name:
        assignments.append('"customer_name" = EXCLUDED."customer_name"')
    # A message after 24 hours of silence opens a new customer service window (old values on the right: the
    # stored last_inbound_at before this message); the cutoff is the statement's one parameter of its own.
    cutoff = connection.ops.adapt_datetimefield_value(now - settings.CUSTOMER_SERVICE_WINDOW)
    old = f'"{table}"."last_inbound_at"'
    assignments.append(
        f'"window_opened_at" = CASE WHEN {old} IS NULL OR {old} <= %s '
        f'THEN EXCLUDED."window_opened_at" ELSE "{table}"."window_opened_at" END'
    )
    conversation = upsert_returning(
        Conversation(
            restaurant_id=sender.restaurant_id,
            customer_id=inbound.customer_id or inbound.from_number,
            sender=sender,
            customer_phone=inbound.from_number[:32],
            customer_name=inbound.profile_name[:200],
            status=Conversation.Status.OPEN,
            unread_count=1,
            last_inbound_at=now,
            last_message_at=now,
            window_opened_at=now,
        ),
        conflict_fields=["restaurant", "customer_id"],
        assignments=assignments,
        assignment_params=[cutoff],
    )
    conversation.sender = sender  # the objects already loaded, for the bot's step and the events
    conversation.restaurant = sender.restaurant
    return conversation


def _inbound_content(inbound: InboundMessage) -> dict:
    """Everything the message carried, by kind (docs: conversations.api.InboundContentSerializer): nothing a
    customer sends is dropped because the bot does not use it."""
    content: dict = {k: v for k, v in inbound.details.items() if v not in ("", None, {}, [])}
    if inbound.reply_id:
        content["reply_id"] = inbound.reply_id
    if inbound.latitude is not None:
        location = dict(inbound.details.get("location") or {})
        location.update(latitude=inbound.latitude, longitude=inbound.longitude, address=location.get("address", ""))
        if inbound.address and not location["address"]:
            location["address"] = inbound.address
        content["location"] = location
    if inbound.media:
        content["media"] = inbound.media
    for key in ("context", "referral", "errors"):
        if getattr(inbound, key):
            content[key] = getattr(inbound, key)
    if inbound.customer_id != inbound.from_number:
        content["customer_id"] = inbound.customer_id
    return content


def _original_update(*, conversation: Conversation, inbound: InboundMessage, by: Message) -> None:
    """An edit replaces the text of the message it edits (the first text is kept); a revoke marks it deleted.
    Both stay stored as messages of their own."""
    original = Message.objects.filter(
        conversation=conversation, provider=inbound.provider, provider_message_id=inbound.details.get("original_id")
    ).first()
    if original is None:
        return
    content = dict(original.content)
    if inbound.kind == "edit":
        content.setdefault("original_body", original.body)
        content["edited_by"] = by.provider_message_id
        Message.objects.filter(pk=original.pk).update(body=inbound.text, content=content)
    else:
        content.update(revoked=True, revoked_by=by.provider_message_id)
        Message.objects.filter(pk=original.pk).update(content=content)


def _identity_change(*, conversation: Conversation, inbound: InboundMessage) -> Conversation:
    """WhatsApp says the customer changed number: the conversation follows them, unless the new number
    already has a conversation here (then both stay, and the notice is stored in the old one)."""
    new_id, new_number = whatsapp_identity(inbound.details.get("wa_id") or inbound.details.get("new_wa_id") or "")
    if not new_id or new_id == conversation.customer_id:
        return conversation
    taken = Conversation.objects.filter(restaurant_id=conversation.restaurant_id, customer_id=new_id).exists()
    if not taken:
        Conversation.objects.filter(pk=conversation.pk).update(customer_id=new_id, customer_phone=new_number)
        conversation.refresh_from_db()
    return conversation


def conversation_open(
    *, sender: Sender, customer_phone: str, customer_name: str = "", customer_id: str = ""
) -> Conversation:
    """The customer's conversation with the sender's restaurant, started if there is none yet. Atomic on the
    unique (restaurant, customer_id) — the customer's WhatsApp identity, their number unless WhatsApp gave a
    business-scoped id: concurrent first messages find one conversation."""
    conversation, _ = Conversation.objects.get_or_create(
        restaurant_id=sender.restaurant_id,
        customer_id=customer_id or customer_phone,
        defaults={
            "sender": sender,
            "customer_phone": customer_phone[:32],
            "customer_name": customer_name[:200],
            "last_message_at": timezone.now(),
        },
    )
    return conversation
