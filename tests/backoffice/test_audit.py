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


def test_template_edits_through_the_api_and_admin_are_recorded_with_the_content_before_and_after(client):
    restaurant = RestaurantFactory()
    SenderFactory(restaurant=restaurant, provider="console", credentials={"auth_token": "t" * 32})
    admin = staff(restaurant, role="ADMIN")
    base = f"/api/v1/restaurants/{restaurant.pk}/templates/"
    body = {"name": "pickup_ready", "language": "en", "category": "UTILITY", "body": "Your order is ready."}

    created = client.post(base, body, content_type="application/json", **auth(admin)).json()
    client.patch(
        f"{base}{created['id']}/",
        {"body": "Your order is ready to collect."},
        content_type="application/json",
        **auth(admin),
    )
    client.post(f"{base}{created['id']}/submit/", **auth(admin))
    client.force_login(admin)
    form = {
        "restaurant": restaurant.pk,
        "name": "pickup_ready",
        "language": "en",
        "category": "UTILITY",
        "header_type": "none",
        "body": "Collect it at the counter.",
        "purpose": "",
        "buttons": "[]",
        "examples": "{}",
        "header_text": "",
        "header_image_url": "",
        "footer": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    admin_page = client.post(f"/admin/message_templates/messagetemplate/{created['id']}/change/", form)
    client.delete(f"{base}{created['id']}/", **auth(admin))

    [made] = _entries(restaurant, "template.created")
    assert made.actor == admin and made.source == "api"
    assert made.changes["body"] == {"before": None, "after": "Your order is ready."}
    changes = AuditEntry.objects.filter(restaurant=restaurant, action="template.changed").order_by("id")
    api_edit = changes[0]
    assert api_edit.source == "api"
    assert api_edit.changes["body"] == {"before": "Your order is ready.", "after": "Your order is ready to collect."}
    [submitted] = _entries(restaurant, "template.submitted")
    assert submitted.changes["status"] == {"before": "draft", "after": "approved"}
    assert admin_page.status_code == 302
    admin_edit = changes[1]
    assert admin_edit.source == "admin" and admin_edit.changes["body"]["after"] == "Collect it at the counter."
    assert admin_edit.changes["status"] == {"before": "approved", "after": "draft"}  # a new review is needed
    [deleted] = _entries(restaurant, "template.deleted")
    assert deleted.changes["body"] == {"before": "Collect it at the counter.", "after": None}


def test_registering_a_sender_is_recorded_without_its_secrets(client):
    restaurant = RestaurantFactory()
    root = UserFactory(is_superuser=True, is_staff=True)
    token = "secret-auth-token-" + "9" * 20

    response = client.post(
        "/api/v1/admin/senders/",
        {
            "restaurant": restaurant.pk,
            "provider": "twilio",
            "phone_number": "+15550108801",
            "credentials": {"account_sid": "AC" + "1" * 32, "auth_token": token},
        },
        content_type="application/json",
        **auth(root),
    )

    assert response.status_code == 201, response.content
    [created] = _entries(restaurant, "sender.created")
    assert created.actor == root and created.source == "api"
    assert created.changes["phone_number"] == {"before": None, "after": "+15550108801"}
    assert created.changes["credentials.auth_token"] == {"changed": True}
    assert token not in json.dumps(created.changes)
