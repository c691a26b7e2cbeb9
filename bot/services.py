"""How Sufrah answers an inbound message: the driver around the pure bot engine (bot/engine.py).

A step of its own, after conversations.services.inbound.message_receive has stored the message and
committed: inbound_answer locks the conversation (one customer's messages are answered one after the
other), claims the message's awaiting_bot flag (exactly once), loads the stored session and the plain
context, runs the engine, carries out its actions through the orders and conversations services, stores
the new session and queues the replies, all in one transaction.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.services import consent_keyword_handle
from conversations.models import BotSession, Conversation, Message
from conversations.ratelimit import limiter
from conversations.services.handoff import conversation_handoff, conversation_language_set
from conversations.services.media import OutgoingFile
from conversations.services.outbound import message_send, replies_queue
from orders.selectors import order_get
from orders.services import IllegalTransition, order_place, rating_later, rating_record
from providers.content import InboundMessage, OutboundContent
from restaurants.models import MenuItem
from sufrahbot import reply_ids
from sufrahbot.db import update_prepared, upsert_returning
from sufrahbot.texts import t

from . import engine
from .selectors import bot_context_build, conversation_for_answer
from .types import (
    Action,
    ActionFailed,
    Handoff,
    OrderPlaced,
    Outcome,
    PlaceOrder,
    RatingLater,
    RecordRating,
    SetLanguage,
)

logger = logging.getLogger(__name__)


def inbound_answer(*, message: Message, inbound: InboundMessage) -> bool:
    """Answer one stored inbound message unless it has been answered already (a replayed webhook, a second
    worker). `inbound` is the parsed message it was stored from. Returns whether this call handled it."""
    with transaction.atomic():
        conversation = conversation_for_answer(conversation_id=message.conversation_id, before_message_id=message.pk)
        claimed = update_prepared(Message, {"pk": message.pk, "awaiting_bot": True}, awaiting_bot=False)
        if not claimed:
            return False
        if inbound.is_event:
            # A reaction, an edit, a revoke, a number-change notice: stored, shown to staff, not answered.
            return True
        # STOP / إيقاف (or the opt-out button), START: marketing consent, confirmed; the bot says nothing more.
        if inbound.kind in ("text", "interactive") and consent_keyword_handle(
            conversation=conversation, text=inbound.text, reply_id=inbound.reply_id
        ):
            return True
        _reply(conversation=conversation, message=message, inbound=inbound.sanitized())
    return True


def _too_fast(conversation: Conversation) -> bool:
    """A customer over BOT_CUSTOMER_MESSAGES_PER_MINUTE: the message stays stored (staff see it) but the
    bot does not answer it; the first one over the limit (then at most one a minute) gets a slow-down note."""
    per_minute = settings.BOT_CUSTOMER_MESSAGES_PER_MINUTE
    if per_minute <= 0 or limiter().reserve(f"customer:{conversation.pk}", per_minute) == 0:
        return False
    logger.info("customer over the message rate: not answered", extra={"conversation_id": conversation.pk})
    if limiter().reserve(f"customer-note:{conversation.pk}", 1) == 0:
        language = conversation.language or conversation.restaurant.default_language
        message_send(conversation=conversation, content=OutboundContent.text(t("slow_down", language)))
    return True


def _reply(*, conversation: Conversation, message: Message, inbound: InboundMessage) -> None:
    if conversation.bot_paused and not reply_ids.is_rating(inbound.reply_id):
        # Staff have the conversation; the bot stays silent until resumed. A tapped rating reply still goes
        # through: the rating prompt may have reached a conversation that was handed over meanwhile.
        return
    if _too_fast(conversation):
        return
    session = _session_of(conversation)
    context = bot_context_build(conversation=conversation, before_message_id=message.pk)
    now = timezone.now()
    try:
        result = engine.handle(session.state if session else {}, inbound, context, now)
    except Exception:  # a bug in the engine must still leave the customer an answer
        logger.exception("bot engine failed", extra={"conversation_id": conversation.pk, "message_id": message.pk})
        language = conversation.language or conversation.restaurant.default_language
        message_send(conversation=conversation, content=engine.fallback_reply(language))
        return

    state, outbound = result.session, list(result.outbound)
    language_changed = False
    for action in result.actions:
        if isinstance(action, SetLanguage) and action.language in ("ar", "en"):
            # Stored with the replies in the conversation's one UPDATE (replies_queue); the session already
            # carries it (the engine's own state). Another language is refused by conversation_language_set.
            language_changed = language_changed or action.language != conversation.language
            conversation.language = action.language
            continue
        outcome = _action_run(action, conversation=conversation)
        if outcome is not None:
            follow_up = engine.handle_outcome(state, outcome, context, now)
            state = follow_up.session
            outbound.extend(follow_up.outbound)
    _session_save(conversation=conversation, state=state)
    contents, files = [], []
    for content in outbound:
        named = _named_media(conversation=conversation, ref=content.media_ref) if content.media_ref else None
        if content.media_ref and not named:
            continue  # the photo went away between the menu read and now: the text that follows still goes
        contents.append(content)
        files.append(named)
    replies_queue(conversation=conversation, contents=contents, files=files, language_changed=language_changed)


def _session_of(conversation: Conversation) -> BotSession | None:
    try:
        return conversation.bot_session  # loaded with the conversation (conversation_for_answer)
    except BotSession.DoesNotExist:
        return None


def _session_save(*, conversation: Conversation, state: dict) -> None:
    """One statement whether the conversation has a session yet or not, written once per process."""
    upsert_returning(
        BotSession(conversation=conversation, state=state),
        conflict_fields=["conversation"],
        assignments=['"state" = EXCLUDED."state"', '"updated_at" = EXCLUDED."updated_at"'],
    )


def _named_media(*, conversation: Conversation, ref: str) -> list[OutgoingFile]:
    """The stored file an engine reply names ("menu_item:7" → that dish's WhatsApp-size photo)."""
    kind, _, key = ref.partition(":")
    if kind != "menu_item" or not key.isdigit():
        logger.warning("unknown media reference from the engine", extra={"ref": ref[:100]})
        return []
    item = MenuItem.objects.filter(restaurant_id=conversation.restaurant_id, pk=int(key)).exclude(image="").first()
    if item is None:
        return []
    return [
        OutgoingFile(
            kind="image",
            content_type="image/jpeg",  # restaurants.photos makes every menu photo a JPEG
            size=item.image.size,
            filename=f"dish-{item.pk}.jpg",
            storage_name=item.image.name,
        )
    ]


def _action_run(action: Action, *, conversation: Conversation) -> Outcome | None:
    """Carry out one engine action in its own savepoint: a refusal (an item gone, an order already rated)
    undoes only that action and is reported back to the engine, which tells the customer."""
    try:
        with transaction.atomic():
            if isinstance(action, SetLanguage):
                conversation_language_set(conversation=conversation, language=action.language)
            elif isinstance(action, Handoff):
                conversation_handoff(conversation=conversation)
            elif isinstance(action, PlaceOrder):
                order = order_place(
                    conversation=conversation,
                    lines=list(action.lines),
                    fulfilment=action.fulfilment,
                    address=action.address,
                    latitude=action.latitude,
                    longitude=action.longitude,
                    notes=action.notes,
                    notify_customer=False,  # the bot's own confirmation carries the number
                )
                return OrderPlaced(
                    order_id=order.pk, number=order.number, total=order.total, fulfilment=order.fulfilment
                )
            elif isinstance(action, RecordRating | RatingLater):
                order = order_get(restaurant=conversation.restaurant, order_id=action.order_id)
                if order is None or order.conversation_id != conversation.pk:
                    return ActionFailed(action=action, reason="no such order in this conversation")
                if isinstance(action, RecordRating):
                    rating_record(order=order, stars=action.stars)
                else:
                    rating_later(order=order)
    except (ValidationError, IllegalTransition) as exc:
        logger.info(
            "bot action refused",
            extra={"conversation_id": conversation.pk, "action": type(action).__name__, "reason": str(exc)},
        )
        return ActionFailed(action=action, reason=str(exc))
    except Exception as exc:  # the customer still gets an answer; the error is logged in full
        logger.exception(
            "bot action failed", extra={"conversation_id": conversation.pk, "action": type(action).__name__}
        )
        return ActionFailed(action=action, reason=f"{type(exc).__name__}")
    return None
