"""Restaurant staff in Django admin see and change only their own restaurant; platform pages are hidden."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from conversations.models import Message
from orders.models import OrderStatus
from restaurants.models import StaffMembership
from tests.factories import MenuItemFactory, MessageFactory, RestaurantFactory, UserFactory
from tests.orders.factories import customer_conversation, order_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenants(fake_twilio):
    """Two restaurants with a dish, a conversation, a message and a placed order each."""
    data = {}
    for key, name in (("mine", "Mine Grill"), ("theirs", "Theirs Kitchen")):
        restaurant = RestaurantFactory(name_en=name)
        conversation = customer_conversation(restaurant=restaurant, customer_name=f"{name} customer")
        data[key] = {
            "restaurant": restaurant,
            "item": MenuItemFactory(category__restaurant=restaurant, name_en=f"{name} dish"),
            "conversation": conversation,
            "message": MessageFactory(conversation=conversation, body=f"{name} secret order note"),
            "order": order_in(OrderStatus.CONFIRMED, conversation=conversation),
        }
    return data


@pytest.fixture
def staff_client(client, tenants):
    """A staff user of "mine" with every model permission of the project's apps (the widest a group gives)."""
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["restaurants", "conversations", "orders", "webhooks"])
    )
    StaffMembership.objects.create(user=user, restaurant=tenants["mine"]["restaurant"], role="ADMIN")
    client.force_login(user)
    return client


LISTS = [
    "restaurants/restaurant",
    "restaurants/menuitem",
    "conversations/conversation",
    "conversations/message",
    "orders/order",
]


@pytest.mark.parametrize("model", LISTS)
def test_staff_lists_show_their_restaurant_only(staff_client, tenants, model):
    page = staff_client.get(f"/admin/{model}/").content.decode()
    assert "Theirs" not in page
    if model == "conversations/message":
        assert "Mine Grill secret order note" in page
    if model == "restaurants/restaurant":
        assert "Mine Grill" in page


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("restaurants/menuitem", "item"),
        ("conversations/conversation", "conversation"),
        ("orders/order", "order"),
        ("conversations/message", "message"),
        ("restaurants/restaurant", "restaurant"),
    ],
)
def test_another_restaurants_object_is_not_found_and_unchanged(staff_client, tenants, model, key):
    other = tenants["theirs"][key]
    response = staff_client.get(f"/admin/{model}/{other.pk}/change/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain and "doesn’t exist" in page  # Django admin's answer to a missing object
    assert "Theirs" not in page


def test_another_restaurants_order_cannot_be_moved_by_an_admin_action(staff_client, tenants):
    theirs = tenants["theirs"]["order"]
    response = staff_client.post(
        "/admin/orders/order/",
        {"action": "mark_preparing", "_selected_action": [theirs.pk, tenants["mine"]["order"].pk]},
    )
    assert response.status_code in (200, 302)
    theirs.refresh_from_db()
    tenants["mine"]["order"].refresh_from_db()
    assert theirs.status == OrderStatus.CONFIRMED
    assert tenants["mine"]["order"].status == OrderStatus.PREPARING


def test_choices_offer_only_their_restaurant_and_its_categories(staff_client, tenants):
    page = staff_client.get("/admin/restaurants/menuitem/add/").content.decode()
    assert "Mine Grill" in page and "Theirs Kitchen" not in page
    category = tenants["theirs"]["item"].category
    assert f'value="{category.pk}"' not in page


@pytest.mark.parametrize("model", ["restaurants/sender", "webhooks/webhookevent"])
def test_platform_pages_are_refused_to_restaurant_staff(staff_client, model):
    assert staff_client.get(f"/admin/{model}/").status_code == 403


def test_a_restaurant_admin_sees_only_their_own_staff(staff_client, tenants):
    outsider = UserFactory(username="their-cook")
    StaffMembership.objects.create(user=outsider, restaurant=tenants["theirs"]["restaurant"], role="AGENT")

    page = staff_client.get("/admin/restaurants/staffmembership/")

    assert page.status_code == 200
    assert "their-cook" not in page.content.decode() and "Invite staff" in page.content.decode()
    assert staff_client.get("/admin/restaurants/staffmembership/add/").status_code == 403


def test_staff_cannot_create_restaurants(staff_client):
    assert staff_client.get("/admin/restaurants/restaurant/add/").status_code == 403


def test_the_platform_admin_sees_every_restaurant(admin_client, tenants):
    page = admin_client.get("/admin/conversations/message/").content.decode()
    assert "Mine Grill secret order note" in page and "Theirs Kitchen secret order note" in page
    assert Message.objects.count() >= 2
