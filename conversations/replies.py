"""How Sufrah answers an inbound message: the driver around the pure bot engine (conversations/bot).

Called by conversations.services.message_receive inside its transaction, with the conversation row locked,
so one customer's messages are answered one after the other. The driver loads the stored session and the
plain context, runs the engine, carries out its actions through the orders and conversations services,
stores the new session and queues the replies.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orders.selectors import order_get, orders_for_conversation
from orders.services import IllegalTransition, order_place, rating_later, rating_record
from restaurants.selectors import menu_for

from .bot import engine
from .content import InboundMessage, OutboundContent
from .models import BotSession, Conversation, Message

logger = logging.getLogger(__name__)


def reply_to_inbound(*, conversation: Conversation, message: Message, inbound: InboundMessage) -> None:
    from .services import message_send

    if conversation.bot_paused:
        return  # staff have the conversation; the bot stays silent until resumed
    session, _ = BotSession.objects.get_or_create(conversation=conversation)
    context = bot_context_build(conversation=conversation, before_message_id=message.pk)
    now = timezone.now()
    try:
        result = engine.handle(session.state, inbound, context, now)
    except Exception:  # noqa: BLE001 - a bug in the engine must still leave the customer an answer
        logger.exception("bot engine failed", extra={"conversation_id": conversation.pk, "message_id": message.pk})
        language = conversation.language or conversation.restaurant.default_language
        message_send(conversation=conversation, content=engine.fallback_reply(language))
        return

    state, outbound = result.session, list(result.outbound)
    for action in result.actions:
        outcome = _action_run(action, conversation=conversation)
        if outcome is not None:
            follow_up = engine.handle_outcome(state, outcome, context, now)
            state = follow_up.session
            outbound.extend(follow_up.outbound)
    session.state = state
    session.save(update_fields=["state", "updated_at"])
    for content in outbound:
        message_send(conversation=conversation, content=content)


def bot_context_build(*, conversation: Conversation, before_message_id: int | None = None) -> engine.BotContext:
    """Everything the engine may know, as plain data: the restaurant, its menu, the customer's orders and
    the options of the last message the customer was sent (so a typed "2" picks the second one)."""
    restaurant = conversation.restaurant
    menu = tuple(
        engine.CategoryData(
            id=category.pk,
            name_ar=category.name_ar,
            name_en=category.name_en,
            items=tuple(
                engine.MenuItemData(
                    id=item.pk,
                    name_ar=item.name_ar,
                    name_en=item.name_en,
                    price=item.price,
                    description_ar=item.description_ar,
                    description_en=item.description_en,
                )
                for item in category.items.all()
            ),
        )
        for category in menu_for(restaurant=restaurant)
    )
    recent = tuple(
        engine.RecentOrder(id=order.pk, number=order.number, status=order.status, total=order.total)
        for order in orders_for_conversation(conversation=conversation, limit=5)
    )
    return engine.BotContext(
        restaurant_name_ar=restaurant.name_ar,
        restaurant_name_en=restaurant.name_en,
        welcome_text_ar=restaurant.welcome_text_in("ar"),
        welcome_text_en=restaurant.welcome_text_in("en"),
        currency=restaurant.currency,
        delivery_fee=restaurant.delivery_fee,
        default_language=restaurant.default_language,
        support_contact=restaurant.support_contact,
        session_timeout_minutes=restaurant.session_timeout_minutes,
        menu=menu,
        recent_orders=recent,
        last_options=_last_options(conversation=conversation, before_message_id=before_message_id),
        conversation_language=conversation.language,
    )


def _last_options(*, conversation: Conversation, before_message_id: int | None) -> tuple[tuple[str, str], ...]:
    outbound = Message.objects.filter(conversation=conversation, direction=Message.Direction.OUTBOUND)
    if before_message_id is not None:
        outbound = outbound.filter(pk__lt=before_message_id)
    last = outbound.order_by("-id").values_list("content", flat=True).first()
    if not last:
        return ()
    try:
        return tuple(OutboundContent.from_dict(last).options())
    except (TypeError, ValueError):
        return ()  # a hand-written or older content shape: no numbered options to pick from


def _action_run(action: engine.Action, *, conversation: Conversation) -> engine.Outcome | None:
    """Carry out one engine action in its own savepoint: a refusal (an item gone, an order already rated)
    undoes only that action and is reported back to the engine, which tells the customer."""
    from .services import conversation_handoff, conversation_language_set

    try:
        with transaction.atomic():
            if isinstance(action, engine.SetLanguage):
                conversation_language_set(conversation=conversation, language=action.language)
            elif isinstance(action, engine.Handoff):
                conversation_handoff(conversation=conversation)
            elif isinstance(action, engine.PlaceOrder):
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
                return engine.OrderPlaced(order_id=order.pk, number=order.number, total=order.total)
            elif isinstance(action, engine.RecordRating | engine.RatingLater):
                order = order_get(restaurant=conversation.restaurant, order_id=action.order_id)
                if order is None or order.conversation_id != conversation.pk:
                    return engine.ActionFailed(action=action, reason="no such order in this conversation")
                if isinstance(action, engine.RecordRating):
                    rating_record(order=order, stars=action.stars)
                else:
                    rating_later(order=order)
    except (ValidationError, IllegalTransition) as exc:
        logger.info(
            "bot action refused",
            extra={"conversation_id": conversation.pk, "action": type(action).__name__, "reason": str(exc)},
        )
        return engine.ActionFailed(action=action, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - the customer still gets an answer; the error is logged in full
        logger.exception(
            "bot action failed", extra={"conversation_id": conversation.pk, "action": type(action).__name__}
        )
        return engine.ActionFailed(action=action, reason=f"{type(exc).__name__}")
    return None
