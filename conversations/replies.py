"""How Sufrah answers an inbound message. The bot engine plugs in here (issue: the ordering bot);
until then the answer is the restaurant's own welcome text in the customer's language."""

from __future__ import annotations

from .content import InboundMessage, OutboundContent
from .language import detect_language
from .models import Conversation, Message


def reply_to_inbound(*, conversation: Conversation, message: Message, inbound: InboundMessage) -> None:
    from .services import message_send

    if conversation.bot_paused:
        return
    restaurant = conversation.restaurant
    language = detect_language(inbound.text) or conversation.language or restaurant.default_language
    if conversation.language != language:
        Conversation.objects.filter(pk=conversation.pk).update(language=language)
        conversation.language = language
    message_send(conversation=conversation, content=OutboundContent.text(restaurant.welcome_text_in(language)))
