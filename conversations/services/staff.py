"""What staff do to a conversation from the dashboard API and the admin: update it, reply in it."""

from __future__ import annotations

import logging
from dataclasses import replace

from django.core.exceptions import ValidationError
from django.db import transaction

from providers.content import OutboundContent
from providers.media import MediaError
from providers.registry import provider_for
from restaurants.audit import audit_changes, audit_record
from restaurants.models import StaffMembership
from sufrahbot.events import publish

from ..events import conversation_event_data
from ..models import Conversation, Message
from .handoff import conversation_bot_resume, conversation_handoff
from .media import OutgoingFile, outgoing_upload_check
from .outbound import message_queue

logger = logging.getLogger(__name__)


_UNSET = object()


def conversation_update(
    *,
    conversation: Conversation,
    by,
    status: str | None = None,
    assignee=_UNSET,
    bot_paused: bool | None = None,
    mark_read: bool = False,
    customer_name: str | None = None,
) -> Conversation:
    """Change what staff may change on a conversation, then announce it ("conversation.updated").

    `assignee` is a user who is staff of the conversation's restaurant, or None to unassign; leave it out to
    keep the current one. `bot_paused` goes through conversation_handoff / conversation_bot_resume.
    `mark_read` zeroes the unread count; `customer_name` corrects the name shown for the customer (admin).
    `by` is the acting user (for the log).
    """
    changes: dict = {}
    if customer_name is not None and customer_name != conversation.customer_name:
        changes["customer_name"] = customer_name
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
            before = {field: getattr(conversation, field) for field in changes}
            Conversation.objects.filter(pk=conversation.pk).update(**changes)
            conversation.refresh_from_db()
            audit_record(
                restaurant_id=conversation.restaurant_id,
                actor=by,
                action="conversation.changed",
                target=conversation,
                changes=audit_changes(before, {field: getattr(conversation, field) for field in changes}),
            )
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
    with transaction.atomic():
        message, created = message_queue(
            conversation=conversation,
            content=OutboundContent.text(body),
            sent_by=sent_by,
            idempotency_key=idempotency_key,
        )
        if created:
            audit_record(
                restaurant_id=conversation.restaurant_id,
                actor=sent_by,
                action="conversation.replied",
                target=conversation,
                changes={
                    "reply": {"before": None, "after": body[:500]},
                    "message_id": {"before": None, "after": message.pk},
                },
            )
    return message, created


def conversation_reply_file(
    *,
    conversation: Conversation,
    kind: str,
    sent_by,
    caption: str = "",
    upload=None,
    url: str = "",
    filename: str = "",
    idempotency_key: str | None = None,
) -> tuple[Message, bool]:
    """A staff member sends an image or a document: an upload (checked now against the conversation's provider:
    type by its bytes, size, caption) or a URL (fetched and checked when it is sent). Raises ValidationError
    naming the problem, OutsideServiceWindow outside the 24-hour window."""
    rules = provider_for(conversation.sender.provider).outbound_media
    if kind not in rules.types:
        raise ValidationError({"kind": f"{kind} cannot be sent."})
    if upload is not None:
        try:
            outgoing = outgoing_upload_check(upload=upload, kind=kind, caption=caption, rules=rules)
        except MediaError as exc:
            raise ValidationError({"file": exc.message}) from None
        if filename:
            outgoing = replace(outgoing, filename=filename[:200])
    else:
        # The file's type and size are checked when it is fetched, as it is sent.
        problems = rules.caption_violations(kind=kind, caption=caption)
        if problems:
            raise ValidationError({"body": "; ".join(problems)})
        outgoing = OutgoingFile(kind=kind, url=url, filename=filename[:200])
    content = OutboundContent(kind=kind, body=caption, filename=outgoing.filename if kind == "document" else "")
    with transaction.atomic():
        message, created = message_queue(
            conversation=conversation,
            content=content,
            sent_by=sent_by,
            idempotency_key=idempotency_key,
            files=[outgoing],
        )
        if created:
            audit_record(
                restaurant_id=conversation.restaurant_id,
                actor=sent_by,
                action="conversation.replied",
                target=conversation,
                changes={
                    "file": {"before": None, "after": outgoing.filename or url[:200]},
                    "message_id": {"before": None, "after": message.pk},
                },
            )
    return message, created
