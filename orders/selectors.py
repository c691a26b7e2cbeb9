"""Reads of the orders room. Every lookup is scoped to a restaurant (or a conversation, which has one)."""

from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import CharField, OuterRef, QuerySet
from django.db.models.functions import Cast, JSONObject

from conversations.models import Conversation
from restaurants.models import Restaurant

from .models import Order, next_statuses


def _orders() -> QuerySet[Order]:
    return Order.objects.select_related("conversation", "restaurant").prefetch_related("items")


def order_get(*, restaurant: Restaurant, order_id: int) -> Order | None:
    return _orders().filter(restaurant=restaurant, pk=order_id).first()


def order_list(
    *, restaurant: Restaurant, status: str | None = None, created_from=None, created_to=None
) -> QuerySet[Order]:
    """The restaurant's orders, newest first; `created_from` inclusive, `created_to` exclusive."""
    orders = _orders().filter(restaurant=restaurant)
    if status:
        orders = orders.filter(status=status)
    if created_from is not None:
        orders = orders.filter(created_at__gte=created_from)
    if created_to is not None:
        orders = orders.filter(created_at__lt=created_to)
    return orders.order_by("-created_at", "-id")


def orders_for_conversation(*, conversation: Conversation, limit: int = 5) -> list[Order]:
    """The customer's latest orders at this restaurant, newest first."""
    return list(
        _orders()
        .filter(restaurant_id=conversation.restaurant_id, conversation=conversation)
        .order_by("-created_at", "-id")[:limit]
    )


def recent_orders_of_conversation(*, limit: int = 5) -> ArraySubquery:
    """orders_for_conversation as an annotation of a Conversation queryset, read in the same round trip:
    the latest orders' id, number, status and total (as text, so the Decimal stays exact), newest first."""
    return ArraySubquery(
        Order.objects.filter(restaurant_id=OuterRef("restaurant_id"), conversation_id=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values(row=JSONObject(id="id", number="number", status="status", total=Cast("total", CharField())))[
            :limit
        ]
    )


def order_next_statuses(*, order: Order) -> list[str]:
    """Where this order may go next (for admin actions and the API), in the transition table's order."""
    return list(next_statuses(status=order.status, fulfilment=order.fulfilment))
