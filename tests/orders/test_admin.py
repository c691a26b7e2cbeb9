"""Staff move orders from Django admin; an illegal move is an error message on the page, not a 500."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders.models import Order, OrderEvent
from tests.factories import RestaurantFactory, UserFactory

from .factories import customer_conversation, order_in, placed_order

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _act(client, action: str, *orders):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [o.pk for o in orders]}, follow=True)


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def test_an_admin_action_moves_the_order_records_who_and_tells_the_customer(client, staff, fake_twilio):
    order = placed_order(conversation=customer_conversation(restaurant=RestaurantFactory(), language="en"))

    response = _act(client, "mark_preparing", order)

    assert response.status_code == 200
    assert _messages(response) == [("success", "1 order(s) now preparing.")]
    assert Order.objects.get(pk=order.pk).status == "PREPARING"
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.from_status, event.to_status, event.actor) == ("CONFIRMED", "PREPARING", staff)
    assert fake_twilio.sent[-1]["body"] == "Your order #1001 is being prepared 👨‍🍳"


def test_an_illegal_admin_action_shows_an_error_and_moves_nothing(client, staff, fake_twilio):
    order = placed_order()
    events = OrderEvent.objects.filter(order=order).count()

    response = _act(client, "mark_delivered", order)

    assert response.status_code == 200
    assert _messages(response) == [("error", "Cannot move order #1001 from CONFIRMED to DELIVERED.")]
    assert Order.objects.get(pk=order.pk).status == "CONFIRMED"
    assert OrderEvent.objects.filter(order=order).count() == events


def test_an_action_on_several_orders_moves_the_legal_ones_and_reports_the_rest(client, staff, fake_twilio):
    restaurant = RestaurantFactory()
    preparing = order_in("PREPARING", conversation=customer_conversation(restaurant=restaurant))
    delivered = order_in("DELIVERED", conversation=customer_conversation(restaurant=restaurant))

    response = _act(client, "mark_cancelled", preparing, delivered)

    assert _messages(response) == [
        ("error", "Cannot move order #1002 from DELIVERED to CANCELLED."),
        ("success", "1 order(s) now cancelled."),
    ]
    assert Order.objects.get(pk=preparing.pk).status == "CANCELLED"
    assert Order.objects.get(pk=delivered.pk).status == "DELIVERED"


def test_the_order_list_filters_by_status_and_the_page_shows_items_and_events(client, staff, fake_twilio):
    restaurant = RestaurantFactory()
    confirmed = placed_order(conversation=customer_conversation(restaurant=restaurant))
    preparing = order_in("PREPARING", conversation=customer_conversation(restaurant=restaurant))

    listed = client.get(CHANGELIST, {"status__exact": "PREPARING"})
    page = client.get(reverse("admin:orders_order_change", args=[preparing.pk]))

    assert list(listed.context["cl"].result_list) == [preparing]
    assert confirmed not in listed.context["cl"].result_list
    assert page.status_code == 200
    content = page.content.decode()
    item = preparing.items.get()
    assert item.name_en in content and "CONFIRMED" in content
    # The legal next states are buttons, in words; nothing else is offered.
    assert [m["status"] for m in page.context["order_moves"]] == ["OUT_FOR_DELIVERY", "CANCELLED"]
    assert ">Mark out for delivery</button>" in content and ">Cancel order</button>" in content
    assert "Start preparing" not in content
    actions = listed.context["cl"].model_admin.get_actions(listed.wsgi_request)
    assert set(actions) == {
        "mark_confirmed",
        "mark_preparing",
        "mark_out_for_delivery",
        "mark_delivered",
        "mark_cancelled",
    }
    assert "Mark out for delivery" in listed.content.decode() and "Delete selected" not in listed.content.decode()


def test_a_button_on_the_order_page_moves_it_and_comes_back(client, staff, fake_twilio):
    order = order_in("PREPARING", conversation=customer_conversation(restaurant=RestaurantFactory()))
    url = reverse("admin:orders_order_move", args=[order.pk])

    response = client.post(url, {"to_status": "OUT_FOR_DELIVERY"}, follow=True)
    illegal = client.post(url, {"to_status": "CONFIRMED"}, follow=True)

    order.refresh_from_db()
    assert order.status == "OUT_FOR_DELIVERY"
    assert response.redirect_chain[-1][0] == reverse("admin:orders_order_change", args=[order.pk])
    assert ("success", "1 order(s) now out for delivery.") in _messages(response)
    assert _messages(illegal)[-1][0] == "error"
    assert client.get(url).status_code == 405


def test_a_pickup_order_is_collected_not_delivered(client, staff, fake_twilio):
    conversation = customer_conversation(restaurant=RestaurantFactory())
    order = order_in("PREPARING", fulfilment="pickup", conversation=conversation)

    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert ">Mark collected</button>" in page and "Mark out for delivery" not in page
