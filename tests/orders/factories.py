"""Factories and helpers for orders. Orders in a given state are reached through the real services, so
their events, prompts and messages are the ones production would have."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from orders.models import Fulfilment, Order, OrderStatus
from orders.services import order_place, order_transition
from tests.factories import ConversationFactory, MenuItemFactory, RestaurantFactory, SenderFactory

# The way to each status from CONFIRMED, per fulfilment.
PATHS = {
    Fulfilment.DELIVERY: [OrderStatus.PREPARING, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED],
    Fulfilment.PICKUP: [OrderStatus.PREPARING, OrderStatus.DELIVERED],
}


def customer_conversation(*, restaurant=None, language: str = "en", in_window: bool = True, **kwargs):
    """A Twilio conversation whose customer wrote just now (inside the 24-hour window) unless told not to."""
    if restaurant is not None:
        kwargs["sender"] = SenderFactory(restaurant=restaurant)
    return ConversationFactory(
        language=language,
        last_inbound_at=timezone.now() if in_window else timezone.now() - timedelta(hours=25),
        **kwargs,
    )


def placed_order(
    *, conversation=None, fulfilment: str = Fulfilment.DELIVERY, price: str = "25.00", quantity: int = 2, **kwargs
) -> Order:
    conversation = conversation or customer_conversation(restaurant=RestaurantFactory())
    item = MenuItemFactory(category__restaurant=conversation.restaurant, price=price)
    address = kwargs.pop("address", "12 King Fahd Rd, Riyadh" if fulfilment == Fulfilment.DELIVERY else "")
    return order_place(
        conversation=conversation, lines=[(item.pk, quantity)], fulfilment=fulfilment, address=address, **kwargs
    )


def order_in(status: str, *, fulfilment: str = Fulfilment.DELIVERY, **kwargs) -> Order:
    """A placed order moved along the legal path until it reaches `status` (CANCELLED: right after placing)."""
    order = placed_order(fulfilment=fulfilment, **kwargs)
    if status == OrderStatus.CANCELLED:
        return order_transition(order=order, to_status=OrderStatus.CANCELLED)
    for step in PATHS[fulfilment]:
        if order.status == status:
            break
        order = order_transition(order=order, to_status=step)
    assert order.status == status, f"{status} is not on the {fulfilment} path"
    return order
