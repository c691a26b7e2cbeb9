"""Delivery: a driver is assigned when the order goes out, the customer is told who is coming, the order
records when it left and arrived, and delivery.started / delivery.completed go out on the realtime path."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from conversations.models import Message
from orders import services
from orders.services import Driver, order_transition
from tests.api.conftest import auth, staff
from tests.factories import RestaurantFactory, UserFactory
from tests.orders.factories import customer_conversation, order_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events(monkeypatch):
    seen: list[dict] = []
    real = services.publish

    def record(restaurant_id, event):
        seen.append(json.loads(json.dumps(event)))
        real(restaurant_id, event)

    monkeypatch.setattr(services, "publish", record)
    return seen


@pytest.mark.parametrize(
    ("language", "says"),
    [("en", "Khalid (+966555000111) is bringing it"), ("ar", "يوصله لك Khalid (+966555000111)")],
)
def test_out_for_delivery_names_the_driver_to_the_customer(fake_twilio, events, language, says):
    order = order_in("PREPARING", conversation=customer_conversation(restaurant=RestaurantFactory(), language=language))

    order = order_transition(
        order=order, to_status="OUT_FOR_DELIVERY", driver=Driver(name="Khalid", phone="+966555000111")
    )

    assert (order.driver_name, order.driver_phone) == ("Khalid", "+966555000111")
    assert order.left_at is not None and order.arrived_at is None
    told = Message.objects.filter(conversation=order.conversation, direction="out").order_by("-id").first()
    assert says in told.body
    started = [e for e in events if e["type"] == "delivery.started"]
    assert len(started) == 1 and started[0]["order"]["driver_name"] == "Khalid"


def test_delivered_records_the_arrival_and_announces_completion_once(fake_twilio, events):
    order = order_in("OUT_FOR_DELIVERY", conversation=customer_conversation(restaurant=RestaurantFactory()))

    order = order_transition(order=order, to_status="DELIVERED")

    assert order.arrived_at is not None and order.arrived_at >= order.left_at
    assert [e["type"] for e in events].count("delivery.completed") == 1
    assert events[-1]["order"]["arrived_at"] is not None


def test_a_pickup_order_has_no_delivery_events(fake_twilio, events):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    order = order_in("PREPARING", fulfilment="pickup", conversation=conversation)

    order_transition(order=order, to_status="DELIVERED")

    assert not [e for e in events if e["type"].startswith("delivery.")]


def test_the_api_and_the_order_page_take_the_driver(client, fake_twilio):
    restaurant = RestaurantFactory()
    first = order_in("PREPARING", conversation=customer_conversation(restaurant=restaurant))
    second = order_in("PREPARING", conversation=customer_conversation(restaurant=restaurant))
    agent = staff(restaurant)

    response = client.post(
        f"/api/v1/restaurants/{restaurant.pk}/orders/{first.pk}/transition/",
        {"to": "OUT_FOR_DELIVERY", "driver_name": "Sara", "driver_phone": "+966500000777"},
        content_type="application/json",
        **auth(agent),
    )
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(reverse("admin:orders_order_change", args=[second.pk])).content.decode()
    client.post(
        reverse("admin:orders_order_move", args=[second.pk]),
        {"to_status": "OUT_FOR_DELIVERY", "driver_name": "Omar", "driver_phone": "+966500000888"},
    )

    assert response.status_code == 200 and response.json()["driver_name"] == "Sara"
    assert response.json()["left_at"] is not None
    assert 'name="driver_name"' in page
    second.refresh_from_db()
    assert (second.status, second.driver_name, second.driver_phone) == ("OUT_FOR_DELIVERY", "Omar", "+966500000888")
