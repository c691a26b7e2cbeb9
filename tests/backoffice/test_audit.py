"""The audit trail: every staff action through the API or admin, who/what/when and the fields before and
after; tenant-scoped, for ADMINs, never a secret."""

from __future__ import annotations

import json

import pytest

from restaurants.models import AuditEntry, StaffMembership
from tests.api.conftest import auth, staff
from tests.factories import MenuItemFactory, RestaurantFactory, SenderFactory, UserFactory
from tests.orders.factories import customer_conversation, placed_order

pytestmark = pytest.mark.django_db(transaction=True)


def _entries(restaurant, action):
    return list(AuditEntry.objects.filter(restaurant=restaurant, action=action))


def test_api_actions_are_recorded_with_who_and_the_fields_before_and_after(client, fake_twilio):
    restaurant = RestaurantFactory()
    admin = staff(restaurant, role="ADMIN")
    conversation = customer_conversation(restaurant=restaurant)
    order = placed_order(conversation=conversation)
    item = MenuItemFactory(category__restaurant=restaurant, price="25.00")
    base = f"/api/v1/restaurants/{restaurant.pk}/"

    client.post(
        f"{base}orders/{order.pk}/transition/", {"to": "PREPARING"}, content_type="application/json", **auth(admin)
    )
    client.post(
        f"{base}conversations/{conversation.pk}/messages/",
        {"body": "On its way"},
        content_type="application/json",
        **auth(admin),
    )
    client.patch(
        f"{base}conversations/{conversation.pk}/",
        {"status": "resolved", "bot_paused": False},
        content_type="application/json",
        **auth(admin),
    )
    client.patch(f"{base}menu/items/{item.pk}/", {"price": "27.50"}, content_type="application/json", **auth(admin))

    [moved] = _entries(restaurant, "order.moved")
    assert moved.actor == admin and moved.changes == {"status": {"before": "CONFIRMED", "after": "PREPARING"}}
    [replied] = _entries(restaurant, "conversation.replied")
    assert replied.changes["reply"]["after"] == "On its way"
    assert _entries(restaurant, "conversation.handed_off")  # the reply paused the bot
    [changed] = _entries(restaurant, "conversation.changed")
    assert changed.changes["status"] == {"before": "open", "after": "resolved"}
    [priced] = _entries(restaurant, "menuitem.changed")
    assert priced.changes == {"price": {"before": "25.00", "after": "27.50"}}


def test_admin_edits_are_recorded_and_sender_secrets_never_are(client, fake_twilio):
    restaurant = RestaurantFactory()
    item = MenuItemFactory(category__restaurant=restaurant, name_en="Old name")
    sender = SenderFactory(restaurant=restaurant)
    platform = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(platform)
    form = {
        "restaurant": restaurant.pk,
        "category": item.category_id,
        "name_en": "New name",
        "name_ar": item.name_ar,
        "price": "25.00",
        "available": "on",
        "sort_order": 0,
    }
    client.post(f"/admin/restaurants/menuitem/{item.pk}/change/", form)
    client.patch(
        f"/api/v1/admin/senders/{sender.pk}/",
        {"credentials": {"auth_token": "brand-new-secret-token-value"}, "messages_per_minute": 90},
        content_type="application/json",
        **auth(platform),
    )

    [edited] = _entries(restaurant, "menuitem.changed")
    assert edited.source == "admin" and edited.changes["name_en"] == {"before": "Old name", "after": "New name"}
    [sender_entry] = _entries(restaurant, "sender.changed")
    assert sender_entry.changes["credentials.auth_token"] == {"changed": True}
    assert sender_entry.changes["messages_per_minute"] == {"before": 600, "after": 90}
    everything = json.dumps(list(AuditEntry.objects.values("changes", "target_repr")))
    assert "brand-new-secret-token-value" not in everything and sender.credentials["auth_token"] not in everything


def test_a_restaurants_admins_see_its_trail_and_nobody_elses(client, fake_twilio):
    mine, theirs = RestaurantFactory(), RestaurantFactory()
    for restaurant, who in ((mine, "mine-admin"), (theirs, "their-admin")):
        user = UserFactory(username=who)
        StaffMembership.objects.create(user=user, restaurant=restaurant, role="ADMIN")
        order = placed_order(conversation=customer_conversation(restaurant=restaurant))
        client.post(
            f"/api/v1/restaurants/{restaurant.pk}/orders/{order.pk}/transition/",
            {"to": "CANCELLED"},
            content_type="application/json",
            **auth(user),
        )
    agent = UserFactory()
    StaffMembership.objects.create(user=agent, restaurant=mine, role="AGENT")

    client.force_login(StaffMembership.objects.get(restaurant=mine, role="ADMIN").user)
    page = client.get("/admin/restaurants/auditentry/").content.decode()
    client.force_login(agent)
    refused = client.get("/admin/restaurants/auditentry/")

    assert "mine-admin" in page and "order.moved" in page and "their-admin" not in page
    assert refused.status_code == 403
