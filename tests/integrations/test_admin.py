"""Admin: a restaurant ADMIN creates a subscription / key and sees the secret once, redelivers, revokes,
and is told when a subscription was switched off; other restaurants' rows stay out of reach."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import ApiKey, WebhookDelivery, WebhookSubscription
from tests.api.conftest import staff
from tests.factories import RestaurantFactory

from .conftest import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user_client(client):
    restaurant = RestaurantFactory()
    user = staff(restaurant, role="ADMIN")
    client.force_login(user)
    return client, restaurant


def test_a_new_subscription_shows_its_secret_once(admin_user_client):
    client, restaurant = admin_user_client
    response = client.post(
        reverse("admin:integrations_webhooksubscription_add"),
        {
            "restaurant": restaurant.pk,
            "url": "https://pos.example.com/hooks",
            "events": ["order.created"],
            "description": "POS",
            "active": "on",
        },
    )
    assert response.status_code == 200, response.content[:2000]
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret in response.content.decode() and subscription.events == ["order.created"]
    page = client.get(reverse("admin:integrations_webhooksubscription_change", args=[subscription.pk]))
    assert page.status_code == 200 and subscription.secret not in page.content.decode()


def test_a_switched_off_subscription_is_announced_on_the_list(admin_user_client):
    client, restaurant = admin_user_client
    subscription, _ = subscribe(restaurant, "https://pos.example.com/hooks")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=False, disabled_reason="Disabled after 20 deliveries in a row failed for good (last: HTTP 500)"
    )
    page = client.get(reverse("admin:integrations_webhooksubscription_changelist"))
    assert "Switched off" in page.content.decode() and "HTTP 500" in page.content.decode()


def test_redeliver_action_and_other_restaurants_are_out_of_reach(
    admin_user_client, receiver, django_capture_on_commit_callbacks
):
    client, restaurant = admin_user_client
    subscription, _ = subscribe(restaurant, receiver.url())
    theirs, _ = subscribe(RestaurantFactory(), receiver.url("/theirs"))
    delivery = WebhookDelivery.objects.create(
        restaurant=restaurant,
        subscription=subscription,
        event_id="evt_a",
        event_type="menu.updated",
        body="{}",
        status="failed",
    )
    other = WebhookDelivery.objects.create(
        restaurant=theirs.restaurant,
        subscription=theirs,
        event_id="evt_b",
        event_type="menu.updated",
        body="{}",
        status="failed",
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:integrations_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk, other.pk]},
        )
    assert [r.path for r in receiver.requests] == ["/hooks"]
    delivery.refresh_from_db()
    other.refresh_from_db()
    assert delivery.status == "delivered" and other.status == "failed"
    assert client.get(reverse("admin:integrations_webhooksubscription_change", args=[theirs.pk])).status_code == 302


def test_api_key_shown_once_then_revoked(admin_user_client):
    client, restaurant = admin_user_client
    response = client.post(
        reverse("admin:integrations_apikey_add"),
        {"restaurant": restaurant.pk, "name": "POS", "scopes": ["orders:read"], "requests_per_minute": 60},
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    assert "sfk_" + api_key.prefix in response.content.decode()
    client.post(reverse("admin:integrations_apikey_changelist"), {"action": "revoke", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None and not api_key.user.is_active
