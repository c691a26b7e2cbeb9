"""What the bot may know of a conversation, read from the database into the engine's plain data."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery

from conversations.models import Conversation, Message
from orders.selectors import orders_for_conversation, recent_orders_of_conversation
from providers.content import OutboundContent
from restaurants.selectors import menu_for, menu_of_restaurant
from sufrahbot.db import PreparedSelect

from .types import BotContext, CategoryData, MenuItemData, RecentOrder

RECENT_ORDERS = 5


def _conversation_locked(*, conversation_id: int) -> QuerySet:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("restaurant", "sender", "bot_session")
        .filter(pk=conversation_id)
    )


def _conversation_for_answer_query(*, conversation_id: int, before_message_id: int) -> QuerySet:
    """PostgreSQL: the locked conversation with the menu, recent orders and last outbound content as arrays."""
    last_outbound = (
        Message.objects.filter(
            conversation_id=OuterRef("pk"), direction=Message.Direction.OUTBOUND, pk__lt=before_message_id
        )
        .order_by("-id")
        .values("content")[:1]
    )
    return _conversation_locked(conversation_id=conversation_id).annotate(
        bot_menu=menu_of_restaurant(restaurant_ref="restaurant_id"),
        bot_recent_orders=recent_orders_of_conversation(limit=RECENT_ORDERS),
        bot_last_outbound_content=Subquery(last_outbound),
    )


# Built and compiled once per process: the ORM spent longer on this statement than PostgreSQL does.
_conversation_for_answer = PreparedSelect(_conversation_for_answer_query, "conversation_id", "before_message_id")


def conversation_for_answer(*, conversation_id: int, before_message_id: int) -> Conversation:
    """The conversation, locked for the bot's turn (one customer's messages are answered one after the
    other), with its restaurant, sender and bot session, and what bot_context_build reads of its orders and
    of the last message the customer was sent, and the restaurant's menu: one round trip."""
    if connection.vendor != "postgresql":  # the embedded SQLite has no arrays: bot_context_build reads them
        return _conversation_locked(conversation_id=conversation_id).get()
    conversation = _conversation_for_answer.fetch_one(
        conversation_id=conversation_id, before_message_id=before_message_id
    )
    if conversation is None:
        raise Conversation.DoesNotExist(f"conversation {conversation_id}")
    return conversation


def bot_context_build(*, conversation: Conversation, before_message_id: int | None = None) -> BotContext:
    """Everything the engine may know, as plain data: the restaurant, its menu, the customer's orders and
    the options of the last message the customer was sent (so a typed "2" picks the second one). A
    conversation from conversation_for_answer brings its menu, orders and last message along."""
    restaurant = conversation.restaurant
    if hasattr(conversation, "bot_menu"):
        menu = tuple(
            CategoryData(
                id=category["id"],
                name_ar=category["name_ar"],
                name_en=category["name_en"],
                items=tuple(
                    MenuItemData(
                        id=item["id"],
                        name_ar=item["name_ar"],
                        name_en=item["name_en"],
                        price=Decimal(item["price"]),
                        description_ar=item["description_ar"],
                        description_en=item["description_en"],
                        has_photo=bool(item.get("image")),
                    )
                    for item in category["items"]
                ),
            )
            for category in conversation.bot_menu
        )
    else:
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
                        has_photo=bool(item.image),
                    )
                    for item in category.items.all()
                ),
            )
            for category in menu_for(restaurant=restaurant)
        )
    if hasattr(conversation, "bot_recent_orders"):
        recent = tuple(
            RecentOrder(id=row["id"], number=row["number"], status=row["status"], total=Decimal(row["total"]))
            for row in conversation.bot_recent_orders
        )
        last_options = _options_of(conversation.bot_last_outbound_content)
    else:
        recent = tuple(
            RecentOrder(id=order.pk, number=order.number, status=order.status, total=order.total)
            for order in orders_for_conversation(conversation=conversation, limit=RECENT_ORDERS)
        )
        last_options = _last_options(conversation=conversation, before_message_id=before_message_id)
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
        last_options=last_options,
        conversation_language=conversation.language,
    )


def _last_options(*, conversation: Conversation, before_message_id: int | None) -> tuple[tuple[str, str], ...]:
    outbound = Message.objects.filter(conversation=conversation, direction=Message.Direction.OUTBOUND)
    if before_message_id is not None:
        outbound = outbound.filter(pk__lt=before_message_id)
    return _options_of(outbound.order_by("-id").values_list("content", flat=True).first())


def _options_of(last: dict | None) -> tuple[tuple[str, str], ...]:
    if not last:
        return ()
    try:
        return tuple(OutboundContent.from_dict(last).options())
    except (TypeError, ValueError):
        return ()  # a hand-written or older content shape: no numbered options to pick from
