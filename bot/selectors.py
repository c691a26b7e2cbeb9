"""What the bot may know of a conversation, read from the database into the engine's plain data."""

from __future__ import annotations

from conversations.models import Conversation, Message
from orders.selectors import orders_for_conversation
from providers.content import OutboundContent
from restaurants.selectors import menu_for

from .types import BotContext, CategoryData, MenuItemData, RecentOrder


def bot_context_build(*, conversation: Conversation, before_message_id: int | None = None) -> BotContext:
    """Everything the engine may know, as plain data: the restaurant, its menu, the customer's orders and
    the options of the last message the customer was sent (so a typed "2" picks the second one)."""
    restaurant = conversation.restaurant
    menu = tuple(
        CategoryData(
            id=category.pk,
            name_ar=category.name_ar,
            name_en=category.name_en,
            items=tuple(
                MenuItemData(
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
        RecentOrder(id=order.pk, number=order.number, status=order.status, total=order.total)
        for order in orders_for_conversation(conversation=conversation, limit=5)
    )
    return BotContext(
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
