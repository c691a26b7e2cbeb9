"""restaurants/{rid}/webhook-subscriptions/ (ADMIN only): create with the secret shown once, list, change,
rotate, deliveries with their attempts, redeliver."""

from __future__ import annotations

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from integrations.models import WebhookDelivery, WebhookSubscription
from restaurants.models import AuditEntry
from tests.api.conftest import auth, error_of, staff, url
from tests.factories import RestaurantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_of():
    restaurant = RestaurantFactory()
    return restaurant, staff(restaurant, role="ADMIN")


def _create(api, restaurant, admin, target, events=("menu.updated",)):
    return api.post(
        url(restaurant.pk, "webhook-subscriptions/"),
        {"url": target, "events": list(events), "description": "POS"},
        format="json",
        **auth(admin),
    )


def test_create_answers_201_with_the_secret_once(api, admin_of):
    restaurant, admin = admin_of

    created = _create(api, restaurant, admin, "https://pos.example.com/hooks", ["message.received", "order.created"])

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["message.received", "order.created"]
    assert body["active"] is True and body["url"] == "https://pos.example.com/hooks"
    listed = api.get(url(restaurant.pk, "webhook-subscriptions/"), **auth(admin)).json()["results"]
    detail = api.get(url(restaurant.pk, f"webhook-subscriptions/{body['id']}/"), **auth(admin))
    assert [s["id"] for s in listed] == [body["id"]]
    for shown in (str(listed), detail.content.decode()):
        assert body["secret"] not in shown and 'secret"' not in shown.replace("previous_secret", "")
    entry = AuditEntry.objects.get(action="webhooksubscription.created")
    assert entry.actor == admin and body["secret"] not in str(entry.changes)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://pos.example.com/", "events": ["menu.updated"]}, "url"),
        ({"url": "not a url", "events": ["menu.updated"]}, "url"),
        ({"url": "https://user:pw@pos.example.com/", "events": ["menu.updated"]}, "url"),
        ({"url": "https://pos.example.com/", "events": []}, "events"),
        ({"url": "https://pos.example.com/", "events": ["order.exploded"]}, "events"),
        ({"url": "https://pos.example.com/"}, "events"),
    ],
)
def test_bad_input_is_400_with_the_field(api, admin_of, payload, field):
    restaurant, admin = admin_of
    response = api.post(url(restaurant.pk, "webhook-subscriptions/"), payload, format="json", **auth(admin))
    assert response.status_code == 400 and field in error_of(response)["details"]
    assert not WebhookSubscription.objects.exists()


def test_agents_may_not_read_or_manage_subscriptions(api, admin_of):
    restaurant, _ = admin_of
    agent = staff(restaurant, role="AGENT")
    for response in (
        api.get(url(restaurant.pk, "webhook-subscriptions/"), **auth(agent)),
        _create(api, restaurant, agent, "https://pos.example.com/hooks"),
        api.get(url(restaurant.pk, "api-keys/"), **auth(agent)),
    ):
        assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"


def test_patch_rotate_and_delete(api, admin_of):
    restaurant, admin = admin_of
    created = _create(api, restaurant, admin, "https://pos.example.com/hooks").json()
    path = url(restaurant.pk, f"webhook-subscriptions/{created['id']}/")

    patched = api.patch(
        path, {"events": ["order.created", "order.updated"], "active": False}, format="json", **auth(admin)
    )
    assert patched.status_code == 200 and patched.json()["events"] == ["order.created", "order.updated"]
    assert patched.json()["active"] is False

    rotated = api.post(path + "rotate-secret/", {"overlap_seconds": 3600}, format="json", **auth(admin))
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"] and rotated.json()["signing_with_previous_secret_until"]
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret == rotated.json()["secret"] and subscription.previous_secret == created["secret"]
    too_long = api.post(path + "rotate-secret/", {"overlap_seconds": 10**8}, format="json", **auth(admin))
    assert too_long.status_code == 400 and "overlap_seconds" in error_of(too_long)["details"]

    assert api.delete(path, **auth(admin)).status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_deliveries_their_attempts_and_redelivery_through_the_api(
    api, admin_of, receiver, django_capture_on_commit_callbacks
):
    restaurant, admin = admin_of
    created = _create(api, restaurant, admin, receiver.url()).json()
    base = url(restaurant.pk, f"webhook-subscriptions/{created['id']}/")
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post(
            url(restaurant.pk, "menu/categories/"), {"name_ar": "س", "name_en": "Soups"}, format="json", **auth(admin)
        )
    assert made.status_code == 201

    listed = api.get(base + "deliveries/", **auth(admin))
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert row["status"] == "delivered" and row["event_type"] == "menu.updated" and row["attempts"] == 1
    detail = api.get(base + f"deliveries/{row['id']}/", **auth(admin)).json()
    assert detail["payload"]["data"]["menu"]["name_en"] == "Soups"
    assert detail["attempt_log"][0]["status_code"] == 200 and detail["attempt_log"][0]["response_body"] == "ok"
    assert api.get(base + "deliveries/?status=failed", **auth(admin)).json()["results"] == []
    assert api.get(base + "deliveries/?status=exploded", **auth(admin)).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(base + f"deliveries/{row['id']}/redeliver/", **auth(admin))
    assert again.status_code == 202
    assert len(receiver.requests) == 2
    assert Webhook(created["secret"]).verify(receiver.requests[1].body, receiver.requests[1].headers)

    with django_capture_on_commit_callbacks(execute=True):
        since = api.post(
            base + "redeliver/",
            {"since": (timezone.now() - timezone.timedelta(hours=1)).isoformat()},
            format="json",
            **auth(admin),
        )
    assert since.status_code == 202 and since.json() == {"redelivered": 1}
    assert len(receiver.requests) == 3
    assert WebhookDelivery.objects.get().attempt_log.count() == 3
    bad = api.post(base + "redeliver/", {"since": "yesterday"}, format="json", **auth(admin))
    assert bad.status_code == 400 and "since" in error_of(bad)["details"]
