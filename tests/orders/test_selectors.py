"""Reads of orders: every lookup is scoped to its restaurant; the plain-dict shape is JSON-safe."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.events import order_event_data
from orders.models import Order
from orders.selectors import order_get, order_list, order_next_statuses, orders_for_conversation
from orders.services import order_transition, rating_record
from tests.factories import RestaurantFactory

from .factories import customer_conversation, order_in, placed_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_order_get_finds_only_the_restaurants_own_orders(fake_twilio):
    order = placed_order()
    other = RestaurantFactory()

    assert order_get(restaurant=order.restaurant, order_id=order.pk) == order
    assert order_get(restaurant=other, order_id=order.pk) is None
    assert order_get(restaurant=order.restaurant, order_id=order.pk + 1000) is None


def test_order_list_filters_by_status_and_creation_time_newest_first(fake_twilio):
    restaurant = RestaurantFactory()
    conversation = customer_conversation(restaurant=restaurant)
    old, middle, new = (placed_order(conversation=conversation) for _ in range(3))
    now = timezone.now()
    Order.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    Order.objects.filter(pk=middle.pk).update(created_at=now - timedelta(days=1))
    order_transition(order=middle, to_status="PREPARING")
    placed_order()  # another restaurant's

    assert list(order_list(restaurant=restaurant)) == [new, middle, old]
    assert list(order_list(restaurant=restaurant, status="PREPARING")) == [middle]
    assert list(order_list(restaurant=restaurant, status="CONFIRMED")) == [new, old]
    assert list(order_list(restaurant=restaurant, created_from=now - timedelta(days=2))) == [new, middle]
    assert list(order_list(restaurant=restaurant, created_to=now - timedelta(hours=1))) == [middle, old]
    assert list(
        order_list(restaurant=restaurant, created_from=now - timedelta(days=2), created_to=now - timedelta(hours=1))
    ) == [middle]


def test_orders_for_conversation_are_the_customers_latest_newest_first(fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    mine = [placed_order(conversation=conversation) for _ in range(4)]
    placed_order(conversation=customer_conversation(restaurant=conversation.restaurant))  # another customer's

    assert orders_for_conversation(conversation=conversation) == mine[::-1]
    assert [o.number for o in orders_for_conversation(conversation=conversation, limit=2)] == [1004, 1003]


@pytest.mark.parametrize(
    ("fulfilment", "status", "expected"),
    [
        ("delivery", "DRAFT", ["CONFIRMED", "CANCELLED"]),
        ("delivery", "CONFIRMED", ["PREPARING", "CANCELLED"]),
        ("delivery", "PREPARING", ["OUT_FOR_DELIVERY", "CANCELLED"]),
        ("delivery", "OUT_FOR_DELIVERY", ["DELIVERED", "CANCELLED"]),
        ("delivery", "DELIVERED", ["RATED"]),
        ("delivery", "RATED", []),
        ("delivery", "CANCELLED", []),
        ("pickup", "CONFIRMED", ["PREPARING", "CANCELLED"]),
        ("pickup", "PREPARING", ["DELIVERED", "CANCELLED"]),
        ("pickup", "DELIVERED", ["RATED"]),
    ],
)
def test_next_statuses_follow_the_transition_table(fulfilment, status, expected):
    assert order_next_statuses(order=Order(status=status, fulfilment=fulfilment)) == expected


@pytest.mark.parametrize("fulfilment", ["delivery", "pickup"])
@pytest.mark.parametrize("status", ["CONFIRMED", "PREPARING", "DELIVERED"])
def test_every_next_status_offered_is_a_move_that_works(fake_twilio, fulfilment, status):
    offered = order_next_statuses(order=order_in(status, fulfilment=fulfilment))

    assert offered, f"{fulfilment} {status} offers no next status"
    for to_status in offered:
        order = order_in(status, fulfilment=fulfilment)
        if to_status == "RATED":  # staff never set RATED; the customer's rating moves the order there
            rating_record(order=order, stars=5)
            order.refresh_from_db()
        else:
            order = order_transition(order=order, to_status=to_status)
        assert order.status == to_status


def test_order_event_data_is_a_json_safe_plain_dict(fake_twilio):
    restaurant = RestaurantFactory(delivery_fee="7.50", currency="AED")
    conversation = customer_conversation(restaurant=restaurant, customer_name="Layla")
    order = placed_order(conversation=conversation, price="12.25", quantity=2, notes="Ring twice")

    data = json.loads(json.dumps(order_event_data(order_get(restaurant=restaurant, order_id=order.pk))))

    assert data["id"] == order.pk and data["number"] == 1001
    assert (data["status"], data["fulfilment"], data["currency"]) == ("CONFIRMED", "delivery", "AED")
    assert (data["subtotal"], data["delivery_fee"], data["total"]) == ("24.50", "7.50", "32.00")
    assert (data["conversation_id"], data["customer_phone"], data["customer_name"]) == (
        conversation.pk,
        conversation.customer_phone,
        "Layla",
    )
    assert data["notes"] == "Ring twice" and data["address"] == "12 King Fahd Rd, Riyadh"
    assert [(i["quantity"], i["unit_price"], i["line_total"]) for i in data["items"]] == [(2, "12.25", "24.50")]
    assert data["created_at"].startswith(str(order.created_at.date()))
