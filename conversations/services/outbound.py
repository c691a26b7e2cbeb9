"""Queuing what goes to a customer: the 24-hour window, idempotency keys, and the hand-over to the
sending worker (conversations.tasks → delivery)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from providers.content import OutboundContent
from sufrahbot.db import insert_prepared, update_prepared
from sufrahbot.enqueue import delay_or_log
from sufrahbot.errors import OutsideServiceWindow
from sufrahbot.events import publish

from ..events import conversation_event_data
from ..models import STATUS_RANK, Conversation, Message, MessageStatus
from ..tasks import send_message
from .handoff import conversation_handoff
from .media import OutgoingFile, message_media_attach


def service_window_open(*, conversation: Conversation, at=None) -> bool:
    at = at or timezone.now()
    last = conversation.last_inbound_at
    return last is not None and at - last < settings.CUSTOMER_SERVICE_WINDOW


def message_send(
    *,
    conversation: Conversation,
    content: OutboundContent,
    sent_by=None,
    idempotency_key: str | None = None,
    require_window: bool = True,
    files: list[OutgoingFile] | None = None,
) -> Message:
    """Queue one outbound message; a worker sends it after commit.

    Free-form content outside the 24-hour window is refused (templates are exempt). With an idempotency
    key, the same key twice returns the first message and sends once. `files` go with an image or document.
    """
    message, _ = message_queue(
        conversation=conversation,
        content=content,
        sent_by=sent_by,
        idempotency_key=idempotency_key,
        require_window=require_window,
        files=files,
    )
    return message


def message_queue(
    *,
    conversation: Conversation,
    content: OutboundContent,
    sent_by=None,
    idempotency_key: str | None = None,
    require_window: bool = True,
    files: list[OutgoingFile] | None = None,
) -> tuple[Message, bool]:
    """message_send, also saying whether this call queued the message (False: the idempotency key's first
    message is returned and nothing more is sent)."""
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
            if files:
                message_media_attach(message=message, files=files)
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created_at)
            if sent_by is not None:
                Conversation.objects.filter(pk=conversation.pk, first_response_at__isnull=True).update(
                    first_response_at=message.created_at
                )
                # A person answering takes the conversation over: the bot stays quiet until resumed.
                conversation_handoff(conversation=conversation, by=sent_by)
            transaction.on_commit(lambda: delay_or_log(send_message, message.pk, message_id=message.pk))
    return message, created


def replies_queue(
    *,
    conversation: Conversation,
    contents: list[OutboundContent],
    language_changed: bool = False,
    files: list[list[OutgoingFile] | None] | None = None,
) -> list[Message]:
    """The bot's answer to one inbound message, queued in one go: its replies stored with one INSERT, and the
    conversation's last_message_at (and its language, when the bot switched conversation.language in memory:
    `language_changed`) in one UPDATE. `conversation` is locked by the caller and fresh (the bot's turn).
    The 24-hour window applies as in message_send. `files[i]` go with `contents[i]` (a dish's photo)."""
    for content in contents:
        if content.kind != "template" and not service_window_open(conversation=conversation):
            raise OutsideServiceWindow(
                "The customer's last message is more than 24 hours old: only an approved template may be sent."
            )
    messages = [
        Message(
            restaurant_id=conversation.restaurant_id,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            provider=conversation.sender.provider,
            kind=content.kind,
            body=content.body,
            content=content.to_dict(),
            status=MessageStatus.QUEUED,
            status_rank=STATUS_RANK[MessageStatus.QUEUED],
        )
        for content in contents
    ]
    if len(messages) == 1:
        insert_prepared(messages[0])  # the usual answer: the statement built once (Message has no signals)
    elif messages:
        Message.objects.bulk_create(messages)  # one INSERT for them all
    for message, attached in zip(messages, files or [], strict=False):
        if attached:
            message_media_attach(message=message, files=attached)
    updates: dict = {}
    if messages:
        updates["last_message_at"] = messages[-1].created_at
    if language_changed:
        updates["language"] = conversation.language
    if updates:
        update_prepared(Conversation, {"pk": conversation.pk}, **updates)
        for field, value in updates.items():
            setattr(conversation, field, value)
    if language_changed:
        publish(
            conversation.restaurant_id,
            {"type": "conversation.updated", "conversation": conversation_event_data(conversation)},
        )
    for message in messages:
        transaction.on_commit(lambda pk=message.pk: delay_or_log(send_message, pk, message_id=pk))
    return messages


def message_retry(*, message: Message) -> bool:
    """Put a failed outbound message back in the queue (the admin's "retry" on the dead letter)."""
    updated = Message.objects.filter(
        pk=message.pk,
        direction=Message.Direction.OUTBOUND,
        status=MessageStatus.FAILED,
        provider_message_id__isnull=True,
    ).update(
        status=MessageStatus.QUEUED,
        status_rank=STATUS_RANK[MessageStatus.QUEUED],
        attempts=0,
        next_attempt_at=timezone.now(),
        send_unconfirmed=False,  # staff decided it did not arrive
    )
    if updated:
        transaction.on_commit(lambda: delay_or_log(send_message, message.pk, message_id=message.pk))
    return bool(updated)
