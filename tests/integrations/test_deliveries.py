"""Outgoing webhooks end to end: a real change → a delivery row in its transaction → the task signs and POSTs
it to a local receiver, which verifies it with the standardwebhooks library."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from integrations.services.deliveries import deliveries_redeliver_since, delivery_redeliver
from integrations.services.subscriptions import subscription_rotate_secret, subscription_update
from integrations.tasks import deliver_due_webhooks
from restaurants.services import menu_category_create, menu_category_update
from tests.factories import RestaurantFactory

from .conftest import subscribe
from .receiver import Reply

pytestmark = pytest.mark.django_db


def _change(restaurant, name="Grills"):
    """A real menu change through its service: it announces menu.updated."""
    return menu_category_create(restaurant=restaurant, name_ar="مشويات", name_en=name)


def _make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_a_change_is_delivered_signed_and_verifies_with_the_standard_webhooks_library(
    receiver, django_capture_on_commit_callbacks
):
    restaurant = RestaurantFactory()
    subscription, secret = subscribe(restaurant, receiver.url())
    assert secret.startswith("whsec_")

    with django_capture_on_commit_callbacks(execute=True):
        category = _change(restaurant)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "menu.updated" and payload["restaurant_id"] == restaurant.pk
    assert set(payload) == {"type", "id", "created_at", "restaurant_id", "version", "sequence", "subject", "data"}
    assert payload["data"]["menu"] == {
        "object": "category",
        "action": "created",
        "id": category.pk,
        "category_id": category.pk,
        "name_ar": "مشويات",
        "name_en": "Grills",
        "price": None,
        "available": True,
    }
    assert request.headers["webhook-id"] == payload["id"] and payload["id"].startswith("evt_")
    assert request.headers["content-type"] == "application/json"
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 200 and attempt.response_body == "ok" and attempt.duration_ms >= 0


def test_a_tampered_body_a_wrong_secret_and_an_old_timestamp_are_rejected(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    _, secret = subscribe(restaurant, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)
    request = receiver.requests[0]
    hook = Webhook(secret)

    tampered = request.body.replace(b'"Grills"', b'"Free food"')
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError):
        hook.verify(tampered, request.headers)
    _, other_secret = subscribe(restaurant, receiver.url("/other"))
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(request.body, request.headers)
    # A captured request replayed later: its timestamp is outside the library's 5-minute tolerance.
    old = {**request.headers, "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 600)}
    old["webhook-signature"] = hook.sign(
        msg_id=request.headers["webhook-id"],
        timestamp=timezone.now() - timedelta(seconds=600),
        data=request.body.decode(),
    )
    with pytest.raises(WebhookVerificationError, match="too old"):
        hook.verify(request.body, old)
    assert hook.verify(request.body, request.headers)["type"] == "menu.updated"


def test_each_subject_counts_its_own_sequence(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    _, secret = subscribe(restaurant, receiver.url(), events=["menu.updated", "sender.disconnected"])
    with django_capture_on_commit_callbacks(execute=True):
        category = _change(restaurant)
        menu_category_update(category=category, data={"name_en": "Grill"})
        _change(restaurant, name="Drinks")

    payloads = [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests]
    assert [p["sequence"] for p in payloads] == [1, 2, 3]
    assert {p["subject"] for p in payloads} == {"menu"}
    assert len({p["id"] for p in payloads}) == 3


def test_an_event_of_a_rolled_back_change_never_leaves(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscribe(restaurant, receiver.url())

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            _change(restaurant)
            assert WebhookDelivery.objects.count() == 1  # written in the change's own transaction
            raise RuntimeError("the change fails after the event was published")

    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


def test_only_active_subscriptions_that_want_the_type_get_a_delivery(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    wants, _ = subscribe(restaurant, receiver.url("/wants"))
    other_type, _ = subscribe(restaurant, receiver.url("/other"), events=["order.created"])
    off, _ = subscribe(restaurant, receiver.url("/off"))
    subscription_update(subscription=off, data={"active": False})
    other_restaurant, _ = subscribe(RestaurantFactory(), receiver.url("/elsewhere"))

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)

    assert [r.path for r in receiver.requests] == ["/wants"]
    assert set(WebhookDelivery.objects.values_list("subscription_id", flat=True)) == {wants.pk}


def test_5xx_and_network_errors_retry_with_backoff_then_fail(receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    restaurant = RestaurantFactory()
    subscription, secret = subscribe(restaurant, receiver.url())
    receiver.default = Reply(status=503, body=b"down for maintenance" * 100)

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 0.8 * settings.WEBHOOK_RETRY_BASE_SECONDS - 1 <= wait <= 1.2 * settings.WEBHOOK_RETRY_BASE_SECONDS
    # Not due yet: the sweep leaves it alone.
    assert deliver_due_webhooks.apply().result == 0 and len(receiver.requests) == 1

    _make_due(delivery)
    assert deliver_due_webhooks.apply().result == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 2
    second_wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert second_wait > wait * 1.2  # exponential

    _make_due(delivery)
    deliver_due_webhooks.apply()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3 and delivery.next_attempt_at is None
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [a.status_code for a in attempts] == [503, 503, 503] and [a.number for a in attempts] == [1, 2, 3]
    assert all(len(a.response_body.encode()) <= 1024 for a in attempts)  # the first KB only
    # Every attempt was the same event, re-signed: the receiver could have verified each.
    assert {Webhook(secret).verify(r.body, r.headers)["id"] for r in receiver.requests} == {delivery.event_id}
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 1 and subscription.active


def test_a_timeout_is_retried(receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 0.3
    restaurant = RestaurantFactory()
    subscribe(restaurant, receiver.url())
    receiver.script = [Reply(delay=1.0)]

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)

    delivery = WebhookDelivery.objects.get()
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert delivery.status == DeliveryStatus.PENDING and attempt.status_code is None
    assert attempt.error.startswith("timeout") and attempt.duration_ms < 1000
    _make_due(delivery)
    deliver_due_webhooks.apply()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2


def test_a_dead_receiver_is_retried(settings, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscribe(restaurant, "http://127.0.0.1:18199/nobody-listens")

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and "ConnectError" in delivery.last_error


def test_429_waits_as_long_as_retry_after_says(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscribe(restaurant, receiver.url())
    receiver.script = [Reply(status=429, headers={"Retry-After": "120"}, body=b"slow down")]

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 429
    assert 118 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 121
    _make_due(delivery)
    deliver_due_webhooks.apply()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and len(receiver.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_other_4xx_fail_at_once(receiver, status, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscribe(restaurant, receiver.url())
    receiver.default = Reply(status=status, body=b"nope")

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_error == f"HTTP {status}" and WebhookAttempt.objects.get().response_body == "nope"


def test_a_redirect_is_not_followed(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscribe(restaurant, receiver.url("/moved"))
    receiver.script = [Reply(status=307, headers={"Location": receiver.url("/elsewhere")})]

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)

    assert [r.path for r in receiver.requests] == ["/moved"]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED


def test_a_subscription_that_keeps_failing_is_switched_off(receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    restaurant = RestaurantFactory()
    subscription, _ = subscribe(restaurant, receiver.url())
    receiver.default = Reply(status=404)

    for name in ("one", "two", "three"):
        with django_capture_on_commit_callbacks(execute=True):
            _change(restaurant, name)

    subscription.refresh_from_db()
    assert not subscription.active and subscription.disabled_at is not None
    assert "2 deliveries in a row" in subscription.disabled_reason and "HTTP 404" in subscription.disabled_reason
    # Switched off: the third change made no delivery at all.
    assert WebhookDelivery.objects.count() == 2 and len(receiver.requests) == 2

    subscription_update(subscription=subscription, data={"active": True})
    subscription.refresh_from_db()
    assert subscription.active and subscription.consecutive_failures == 0 and subscription.disabled_reason == ""


def test_a_success_resets_the_failure_count(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscription, _ = subscribe(restaurant, receiver.url())
    receiver.script = [Reply(status=400)]
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant, "one")
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 1
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant, "two")
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_redeliver_one_and_everything_since_a_time(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscription, secret = subscribe(restaurant, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant, "one")
    cutoff = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant, "two")
        _change(restaurant, "three")
    first, second, third = WebhookDelivery.objects.order_by("id")
    assert len(receiver.requests) == 3

    with django_capture_on_commit_callbacks(execute=True):
        delivery_redeliver(delivery=first)
    again = receiver.requests[3]
    assert again.headers["webhook-id"] == first.event_id and Webhook(secret).verify(again.body, again.headers)
    first.refresh_from_db()
    assert first.status == DeliveryStatus.DELIVERED and WebhookAttempt.objects.filter(delivery=first).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_redeliver_since(subscription=subscription, since=cutoff) == 2
    assert [r.headers["webhook-id"] for r in receiver.requests[4:]] == [second.event_id, third.event_id]


def test_rotation_signs_with_both_secrets_during_the_overlap(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscription, old_secret = subscribe(restaurant, receiver.url())
    new_secret = subscription_rotate_secret(subscription=subscription, overlap=timedelta(hours=1)).secret
    assert new_secret != old_secret

    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)
    request = receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old_secret).verify(request.body, request.headers)
    assert Webhook(new_secret).verify(request.body, request.headers)

    newest = subscription_rotate_secret(subscription=subscription, overlap=timedelta(0)).secret
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant, "two")
    request = receiver.requests[1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(newest).verify(request.body, request.headers)
    for stale in (old_secret, new_secret):
        with pytest.raises(WebhookVerificationError):
            Webhook(stale).verify(request.body, request.headers)


def test_the_overlap_ends_on_time(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscription, old_secret = subscribe(restaurant, receiver.url())
    new_secret = subscription_rotate_secret(subscription=subscription, overlap=timedelta(hours=1)).secret
    type(subscription).objects.filter(pk=subscription.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)
    request = receiver.requests[0]
    assert Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request.body, request.headers)


def test_secrets_are_encrypted_at_rest(django_capture_on_commit_callbacks):
    from django.db import connection

    restaurant = RestaurantFactory()
    subscription, secret = subscribe(restaurant, "https://pos.example.com/hooks")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_webhooksubscription WHERE id = %s", [subscription.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and not stored.startswith("whsec_")


def test_the_stored_body_is_exactly_what_was_signed(receiver, django_capture_on_commit_callbacks):
    restaurant = RestaurantFactory()
    subscribe(restaurant, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        _change(restaurant)
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests[0].body == delivery.body.encode()
    assert json.loads(delivery.body)["id"] == delivery.event_id
