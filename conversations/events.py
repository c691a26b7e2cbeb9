"""Event payloads of conversations and messages: plain dicts shared by realtime events and the API."""

from __future__ import annotations

from typing import Any

from .models import Conversation, Message


def message_event_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "kind": message.kind,
        "body": message.body,
        "content": message.content,
        "status": message.status,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "provider_message_id": message.provider_message_id,
        "sent_by_id": message.sent_by_id,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


def conversation_event_data(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "customer_phone": conversation.customer_phone,
        "customer_name": conversation.customer_name,
        "language": conversation.language,
        "status": conversation.status,
        "assignee_id": conversation.assignee_id,
        "bot_paused": conversation.bot_paused,
        "unread_count": conversation.unread_count,
        "last_inbound_at": conversation.last_inbound_at.isoformat() if conversation.last_inbound_at else None,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
    }
