"""The bot and the people: who answers a conversation, and in which language the bot speaks."""

from __future__ import annotations

import logging

from django.db import transaction

from restaurants.audit import audit_record
from sufrahbot.events import publish

from ..events import conversation_event_data
from ..models import BotSession, Conversation

logger = logging.getLogger(__name__)


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
            audit_record(
                restaurant_id=conversation.restaurant_id,
                actor=by,
                action="conversation.handed_off" if paused else "conversation.bot_resumed",
                target=conversation,
                changes={"bot_paused": {"before": not paused, "after": paused}},
            )
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
