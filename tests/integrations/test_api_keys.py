"""API keys: created by an ADMIN (shown once, stored hashed), scoped, tenant-scoped like JWTs, rate-limited
per key, revocable, with their last use recorded; menu changes made with one announce menu.updated."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import Message
from integrations.models import ApiKey, WebhookDelivery
from restaurants.models import AuditEntry
from tests.api.conftest import auth, error_of, staff, url
from tests.factories import MenuCategoryFactory, MenuItemFactory, RestaurantFactory
from tests.orders.factories import customer_conversation, placed_order

from .conftest import subscribe

pytestmark = pytest.mark.django_db


class Shop:
    def __init__(self):
        self.restaurant = RestaurantFactory()
        self.admin = staff(self.restaurant, role="ADMIN")
        self.conversation = customer_conversation(restaurant=self.restaurant)
        self.order = placed_order(conversation=self.conversation)
        self.category = MenuCategoryFactory(restaurant=self.restaurant)
        self.item = MenuItemFactory(category=self.category)


@pytest.fixture
def shop():
    return Shop()


def _key(api, shop, scopes, **extra) -> dict:
    response = api.post(
        url(shop.restaurant.pk, "api-keys/"),
        {"name": "POS", "scopes": scopes, **extra},
        format="json",
        **auth(shop.admin),
    )
    assert response.status_code == 201, response.content
    return response.json()


def _bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_the_key_is_shown_once_and_stored_only_as_a_digest(api, shop):
    created = _key(api, shop, ["orders:read"])

    assert created["key"].startswith("sfk_") and created["scopes"] == ["orders:read"]
    listed = api.get(url(shop.restaurant.pk, "api-keys/"), **auth(shop.admin))
    detail = api.get(url(shop.restaurant.pk, f"api-keys/{created['id']}/"), **auth(shop.admin))
    for response in (listed, detail):
        assert response.status_code == 200 and created["key"] not in response.content.decode()
    assert detail.json()["key_hint"].startswith("sfk_") and detail.json()["last_used_at"] is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_hash FROM integrations_apikey WHERE id = %s", [created["id"]])
        assert cursor.fetchone()[0] == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_a_key_reads_what_its_scope_allows_and_nothing_else(api, shop):
    key = _key(api, shop, ["orders:read"])["key"]
    rid = shop.restaurant.pk

    orders = api.get(url(rid, "orders/"), **_bearer(key))
    one = api.get(url(rid, f"orders/{shop.order.pk}/"), **_bearer(key))
    assert orders.status_code == 200 and [o["id"] for o in orders.json()["results"]] == [shop.order.pk]
    assert one.status_code == 200
    for method, path, body in [
        ("post", f"orders/{shop.order.pk}/transition/", {"to": "PREPARING"}),
        ("get", "conversations/", None),
        ("post", f"conversations/{shop.conversation.pk}/messages/", {"body": "hi"}),
        ("get", "menu/", None),
        ("get", "templates/", None),
        ("get", "analytics/", None),
        ("get", "webhook-subscriptions/", None),
        ("get", "api-keys/", None),
        ("post", "api-keys/", {"name": "escalate", "scopes": ["menu:manage"]}),
    ]:
        response = getattr(api, method)(url(rid, path), body, format="json", **_bearer(key))
        assert response.status_code == 403, (path, response.content)
        assert error_of(response)["code"] == "permission_denied"
    assert ApiKey.objects.count() == 1


def test_write_scopes(api, shop, fake_twilio):
    rid = shop.restaurant.pk
    orders_key = _key(api, shop, ["orders:write"])["key"]
    messages_key = _key(api, shop, ["messages:send"])["key"]

    moved = api.post(
        url(rid, f"orders/{shop.order.pk}/transition/"), {"to": "PREPARING"}, format="json", **_bearer(orders_key)
    )
    assert moved.status_code == 200 and moved.json()["status"] == "PREPARING"
    assert api.get(url(rid, "orders/"), **_bearer(orders_key)).status_code == 200  # writing implies reading

    sent = api.post(
        url(rid, f"conversations/{shop.conversation.pk}/messages/"),
        {"body": "Your order is on its way"},
        format="json",
        **_bearer(messages_key),
    )
    assert sent.status_code == 201, sent.content
    # The key acts through its own user: the message and the audit trail name the key.
    key_user = ApiKey.objects.get(scopes=["messages:send"]).user
    assert Message.objects.get(pk=sent.json()["id"]).sent_by == key_user and key_user.first_name == "API key: POS"
    assert not key_user.has_usable_password() and not key_user.is_staff
    assert api.get(url(rid, "conversations/"), **_bearer(messages_key)).status_code == 200
    patch = api.patch(
        url(rid, f"conversations/{shop.conversation.pk}/"),
        {"status": "resolved"},
        format="json",
        **_bearer(messages_key),
    )
    assert patch.status_code == 403


def test_menu_changes_with_a_key_announce_menu_updated(api, shop, receiver, django_capture_on_commit_callbacks):
    rid = shop.restaurant.pk
    key = _key(api, shop, ["menu:manage"])["key"]
    subscribe(shop.restaurant, receiver.url())

    with django_capture_on_commit_callbacks(execute=True):
        changed = api.patch(url(rid, f"menu/items/{shop.item.pk}/"), {"price": "31.50"}, format="json", **_bearer(key))
    assert changed.status_code == 200, changed.content

    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "menu.updated" and delivery.status == "delivered"
    menu = json.loads(receiver.requests[0].body)["data"]["menu"]
    assert menu == {**menu, "object": "item", "action": "changed", "id": shop.item.pk, "price": "31.50"}
    entry = AuditEntry.objects.get(action="menuitem.changed")
    assert entry.actor == ApiKey.objects.get().user


def test_a_key_is_scoped_to_its_own_restaurant(api, shop):
    other = Shop()
    key = _key(api, shop, ["orders:read", "orders:write", "messages:send", "menu:manage"])["key"]
    for path in ["orders/", f"orders/{other.order.pk}/", "menu/", "conversations/"]:
        response = api.get(url(other.restaurant.pk, path), **_bearer(key))
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    # Its own restaurant with another restaurant's ids: 404 too.
    crossed = api.get(url(shop.restaurant.pk, f"orders/{other.order.pk}/"), **_bearer(key))
    assert crossed.status_code == 404
    moved = api.post(
        url(other.restaurant.pk, f"orders/{other.order.pk}/transition/"),
        {"to": "CANCELLED"},
        format="json",
        **_bearer(key),
    )
    assert moved.status_code == 404


def test_revoked_forged_and_malformed_keys_are_401(api, shop):
    created = _key(api, shop, ["orders:read"])
    key = created["key"]
    assert api.get(url(shop.restaurant.pk, "orders/"), **_bearer(key)).status_code == 200

    revoked = api.delete(url(shop.restaurant.pk, f"api-keys/{created['id']}/"), **auth(shop.admin))
    assert revoked.status_code == 204
    assert api.get(url(shop.restaurant.pk, f"api-keys/{created['id']}/"), **auth(shop.admin)).json()["revoked"]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for token in (key, forged, "sfk_nope", "sfk_", "sfk_deadbeef_" + "x" * 32):
        response = api.get(url(shop.restaurant.pk, "orders/"), **_bearer(token))
        assert response.status_code == 401, token
        assert error_of(response)["code"] in ("authentication_failed", "not_authenticated")
    # Non-ASCII in the header is a 401 too, not a 500.
    response = api.get(
        url(shop.restaurant.pk, "orders/"), HTTP_AUTHORIZATION="Bearer sfk_\u00e9\u00e9".encode().decode("latin-1")
    )
    assert response.status_code == 401


def test_last_used_is_recorded_to_the_minute(api, shop):
    created = _key(api, shop, ["orders:read"])
    api.get(url(shop.restaurant.pk, "orders/"), **_bearer(created["key"]))
    first = ApiKey.objects.get().last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=10)
    api.get(url(shop.restaurant.pk, "orders/"), **_bearer(created["key"]))
    assert ApiKey.objects.get().last_used_at == first  # not rewritten on every request
    ApiKey.objects.update(last_used_at=timezone.now() - timedelta(minutes=5))
    api.get(url(shop.restaurant.pk, "orders/"), **_bearer(created["key"]))
    assert ApiKey.objects.get().last_used_at > first - timedelta(seconds=1)


def test_each_key_has_its_own_rate_limit(api, shop):
    limited = _key(api, shop, ["orders:read"], requests_per_minute=3)["key"]
    other = _key(api, shop, ["orders:read"])["key"]
    statuses = [api.get(url(shop.restaurant.pk, "orders/"), **_bearer(limited)).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = api.get(url(shop.restaurant.pk, "orders/"), **_bearer(limited))
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert error_of(response)["code"] == "throttled" and "3 requests a minute" in error_of(response)["message"]
    assert api.get(url(shop.restaurant.pk, "orders/"), **_bearer(other)).status_code == 200
    # Staff with a JWT are not counted against any key.
    assert api.get(url(shop.restaurant.pk, "orders/"), **auth(shop.admin)).status_code == 200


def test_bad_key_input_is_400(api, shop):
    for body, field in [
        ({"name": "POS", "scopes": ["orders:delete"]}, "scopes"),
        ({"name": "POS", "scopes": []}, "scopes"),
        ({"name": "", "scopes": ["orders:read"]}, "name"),
        ({"name": "POS", "scopes": ["orders:read"], "requests_per_minute": 0}, "requests_per_minute"),
    ]:
        response = api.post(url(shop.restaurant.pk, "api-keys/"), body, format="json", **auth(shop.admin))
        assert response.status_code == 400 and field in error_of(response)["details"], body
    assert list(ApiKey.objects.values_list("name", "scopes")) == []
