"""No restaurant ever sees or touches another's data through the API, whatever ids it sends.

The table below names every restaurant-scoped operation; a test checks that it covers all the routes, so a
new endpoint cannot slip in untested.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from campaigns.models import Campaign, MarketingConsent
from conversations.models import Conversation, Message, MessageMedia
from integrations.models import ApiKey, WebhookDelivery, WebhookSubscription
from integrations.services.api_keys import api_key_create
from integrations.services.subscriptions import subscription_create
from orders.models import Order
from restaurants.models import MenuCategory, MenuItem, Plan, StaffMembership, UsageCounter
from sufrahbot.api_urls import restaurant_urlpatterns
from templates.models import MessageTemplate
from tests.factories import MenuCategoryFactory, MenuItemFactory, MessageFactory, RestaurantFactory
from tests.orders.factories import customer_conversation, placed_order

from .conftest import auth, error_of, staff

pytestmark = pytest.mark.django_db

# (method, path under restaurants/<rid>/, JSON body for writes)
OPERATIONS = [
    ("get", "conversations/", None),
    ("get", "conversations/stats/", None),
    ("get", "conversations/{cid}/", None),
    ("patch", "conversations/{cid}/", {"status": "resolved", "bot_paused": True, "mark_read": True}),
    ("get", "conversations/{cid}/messages/", None),
    ("post", "conversations/{cid}/messages/", {"body": "leaked?"}),
    ("get", "orders/", None),
    ("get", "orders/{oid}/", None),
    ("post", "orders/{oid}/transition/", {"to": "CANCELLED"}),
    ("get", "analytics/", None),
    ("get", "usage/", None),
    ("get", "staff/", None),
    ("post", "staff/", {"username": "leaked-user", "role": "AGENT"}),
    ("get", "menu/", None),
    ("get", "menu/categories/", None),
    ("post", "menu/categories/", {"name_ar": "س", "name_en": "S"}),
    ("get", "menu/categories/{category_id}/", None),
    ("patch", "menu/categories/{category_id}/", {"name_en": "Hacked"}),
    ("delete", "menu/categories/{category_id}/", None),
    ("get", "menu/items/", None),
    ("post", "menu/items/", {"category": "{category_id}", "name_ar": "س", "name_en": "S", "price": "1.00"}),
    ("get", "menu/items/{item_id}/", None),
    ("patch", "menu/items/{item_id}/", {"price": "0.01"}),
    ("delete", "menu/items/{item_id}/", None),
    ("get", "menu/items/{item_id}/photo/", None),
    ("put", "menu/items/{item_id}/photo/", {}),
    ("delete", "menu/items/{item_id}/photo/", None),
    ("get", "templates/", None),
    ("post", "templates/", {"name": "leak", "language": "en", "category": "UTILITY", "body": "Hello there."}),
    ("post", "templates/preview/", {"template": "{template_id}", "variables": {}}),
    ("get", "templates/{template_id}/", None),
    ("patch", "templates/{template_id}/", {"body": "Hacked body."}),
    ("delete", "templates/{template_id}/", None),
    ("post", "templates/{template_id}/submit/", None),
    ("post", "conversations/{cid}/messages/", {"template": "{template_id}", "variables": {}}),
    ("get", "media/{media_id}/", None),
    ("get", "conversations/{cid}/consent/", None),
    ("put", "conversations/{cid}/consent/", {"opted_in": True, "tags": ["leak"]}),
    ("get", "campaigns/", None),
    ("post", "campaigns/", {"name": "leak", "template": "{template_id}", "variables": {"name": {"value": "x"}}}),
    ("get", "campaigns/{campaign_id}/", None),
    ("patch", "campaigns/{campaign_id}/", {"name": "Hacked"}),
    ("post", "campaigns/{campaign_id}/schedule/", None),
    ("post", "campaigns/{campaign_id}/pause/", None),
    ("post", "campaigns/{campaign_id}/resume/", None),
    ("post", "campaigns/{campaign_id}/cancel/", None),
    ("get", "campaigns/{campaign_id}/recipients/", None),
    ("get", "webhook-subscriptions/", None),
    ("post", "webhook-subscriptions/", {"url": "https://leak.example.com/", "events": ["menu.updated"]}),
    ("get", "webhook-subscriptions/{subscription_id}/", None),
    ("patch", "webhook-subscriptions/{subscription_id}/", {"url": "https://hacked.example.com/", "active": False}),
    ("delete", "webhook-subscriptions/{subscription_id}/", None),
    ("post", "webhook-subscriptions/{subscription_id}/rotate-secret/", {"overlap_seconds": 0}),
    ("post", "webhook-subscriptions/{subscription_id}/redeliver/", {"since": "2000-01-01T00:00:00Z"}),
    ("get", "webhook-subscriptions/{subscription_id}/deliveries/", None),
    ("get", "webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/", None),
    ("post", "webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver/", None),
    ("get", "api-keys/", None),
    ("post", "api-keys/", {"name": "leak", "scopes": ["orders:read", "menu:manage"]}),
    ("get", "api-keys/{key_id}/", None),
    ("delete", "api-keys/{key_id}/", None),
]
OPERATION_IDS = [f"{method.upper()} {path}" for method, path, _ in OPERATIONS]


class Tenant:
    """A restaurant with one of everything, and an ADMIN of it."""

    def __init__(self, name: str):
        self.restaurant = RestaurantFactory(
            name_en=f"{name} Grill", plan=Plan.objects.create(name=f"{name}-secret-plan", staff_seats=5)
        )
        self.admin = staff(self.restaurant, role="ADMIN")
        self.conversation = customer_conversation(restaurant=self.restaurant, customer_name=f"{name}-customer")
        self.message = MessageFactory(conversation=self.conversation, body=f"{name}-secret-message")
        self.category = MenuCategoryFactory(restaurant=self.restaurant, name_en=f"{name}-category")
        self.item = MenuItemFactory(category=self.category, name_en=f"{name}-dish")
        self.order = placed_order(conversation=self.conversation)
        self.template = MessageTemplate.objects.create(
            restaurant=self.restaurant,
            name=f"{name}_secret_template",
            language="en",
            body=f"{name}-template-body for {{{{name}}}}.",
            status="approved",
            twilio_content_sid="HX" + "0" * 32,
        )
        self.campaign = Campaign.objects.create(
            restaurant=self.restaurant,
            name=f"{name}-secret-campaign",
            template=self.template,
            sender=self.conversation.sender,
            variables={"name": {"value": "x"}},
        )
        self.subscription = subscription_create(
            restaurant=self.restaurant, url=f"https://{name}-receiver.example.com/hooks", events=["order.created"]
        ).subscription
        self.delivery = WebhookDelivery.objects.create(
            restaurant=self.restaurant,
            subscription=self.subscription,
            event_id=f"evt_{name}",
            event_type="order.created",
            body=f'{{"secret": "{name}-delivery-body"}}',
            status="delivered",
        )
        self.api_key = api_key_create(
            restaurant=self.restaurant, name=f"{name}-pos-key", scopes=["orders:read"]
        ).api_key
        self.media = MessageMedia(
            restaurant=self.restaurant, message=self.message, kind="document", status="stored", filename="x.txt"
        )
        self.media.content_type = "text/plain"
        self.media.file.save("x.txt", ContentFile(f"{name}-secret-file".encode()), save=False)
        self.media.save()
        self.markers = [
            f"{name}-receiver",
            f"{name}-delivery-body",
            f"{name}-pos-key",
            f"{name}-customer",
            f"{name}-secret-file",
            f"{name}-secret-message",
            f"{name}-category",
            f"{name}-dish",
            f"{name}_secret_template",
            f"{name}-template-body",
            f"{name}-secret-campaign",
            f"{name}-secret-plan",
            self.admin.username,
            self.conversation.customer_phone,
        ]

    def ids(self) -> dict[str, int]:
        return {
            "rid": self.restaurant.pk,
            "cid": self.conversation.pk,
            "oid": self.order.pk,
            "category_id": self.category.pk,
            "item_id": self.item.pk,
            "template_id": self.template.pk,
            "campaign_id": self.campaign.pk,
            "subscription_id": self.subscription.pk,
            "delivery_id": self.delivery.pk,
            "key_id": self.api_key.pk,
            "media_id": self.media.pk,
        }


def _fill(template, ids: dict[str, int]):
    if isinstance(template, dict):
        return {key: _fill(value, ids) for key, value in template.items()}
    if isinstance(template, str):
        filled = template.format(**ids)
        return int(filled) if template.startswith("{") and filled.isdigit() else filled
    return template


def _call(api, method, path, body, ids, headers):
    full = f"/api/v1/restaurants/{ids['rid']}/" + path.format(**ids)
    if method in ("get", "delete"):
        return getattr(api, method)(full, **headers)
    return getattr(api, method)(full, _fill(body, ids), format="json", **headers)


def _snapshot(tenant: Tenant) -> tuple:
    conversation = Conversation.objects.get(pk=tenant.conversation.pk)
    return (
        conversation.status,
        conversation.bot_paused,
        conversation.unread_count,
        Message.objects.filter(conversation=conversation).count(),
        Order.objects.get(pk=tenant.order.pk).status,
        list(MenuCategory.objects.filter(restaurant=tenant.restaurant).values_list("id", "name_en")),
        list(MenuItem.objects.filter(restaurant=tenant.restaurant).values_list("id", "price", "image")),
        list(MessageTemplate.objects.filter(restaurant=tenant.restaurant).values_list("id", "body", "status")),
        list(Campaign.objects.filter(restaurant=tenant.restaurant).values_list("id", "name", "state")),
        list(MarketingConsent.objects.filter(restaurant=tenant.restaurant).values_list("id", "opted_in", "tags")),
        [
            (s.pk, s.url, s.active, s.secret, s.events)
            for s in WebhookSubscription.objects.filter(restaurant=tenant.restaurant)
        ],
        list(
            WebhookDelivery.objects.filter(restaurant=tenant.restaurant).values_list("id", "status", "next_attempt_at")
        ),
        list(ApiKey.objects.filter(restaurant=tenant.restaurant).values_list("id", "revoked_at")),
        list(StaffMembership.objects.filter(restaurant=tenant.restaurant).values_list("id", "user_id", "role")),
        list(UsageCounter.objects.filter(restaurant=tenant.restaurant).values_list("id", "campaigns")),
    )


@pytest.fixture
def tenants():
    return Tenant("alpha"), Tenant("bravo")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
def test_another_restaurants_rid_is_404_and_reveals_nothing(api, tenants, method, path, body):
    alpha, bravo = tenants
    before = _snapshot(bravo)

    response = _call(api, method, path, body, bravo.ids(), auth(alpha.admin))

    assert response.status_code == 404, response.content
    assert error_of(response)["code"] == "not_found"
    assert not any(marker in response.content.decode() for marker in bravo.markers)
    assert _snapshot(bravo) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [op for op in OPERATIONS if "{" in op[1]],
    ids=[i for i, op in zip(OPERATION_IDS, OPERATIONS, strict=True) if "{" in op[1]],
)
def test_own_rid_with_another_restaurants_object_ids_is_404(api, tenants, method, path, body):
    alpha, bravo = tenants
    ids = {**bravo.ids(), "rid": alpha.restaurant.pk}
    before = _snapshot(bravo), _snapshot(alpha)

    response = _call(api, method, path, body, ids, auth(alpha.admin))

    assert response.status_code == 404, response.content
    assert not any(marker in response.content.decode() for marker in bravo.markers)
    assert (_snapshot(bravo), _snapshot(alpha)) == before


def test_a_menu_item_cannot_be_filed_under_another_restaurants_category(api, tenants):
    alpha, bravo = tenants

    created = _call(
        api,
        "post",
        "menu/items/",
        OPERATIONS[16][2],
        {**alpha.ids(), "category_id": bravo.category.pk},
        auth(alpha.admin),
    )
    moved = _call(
        api, "patch", "menu/items/{item_id}/", {"category": bravo.category.pk}, alpha.ids(), auth(alpha.admin)
    )

    assert created.status_code == moved.status_code == 400
    assert "category" in error_of(created)["details"] and "category" in error_of(moved)["details"]
    assert MenuItem.objects.get(pk=alpha.item.pk).category_id == alpha.category.pk
    assert not MenuItem.objects.filter(category=bravo.category).exclude(pk=bravo.item.pk).exists()


def test_lists_hold_only_the_callers_rows(api, tenants):
    alpha, bravo = tenants
    headers = auth(alpha.admin)

    for path in (
        "conversations/",
        "orders/",
        "menu/",
        "menu/categories/",
        "menu/items/",
        "conversations/stats/",
        "usage/",
        "staff/",
    ):
        response = _call(api, "get", path, None, alpha.ids(), headers)
        assert response.status_code == 200
        text = response.content.decode()
        assert not any(marker in text for marker in bravo.markers), path
    conversations = _call(api, "get", "conversations/", None, alpha.ids(), headers).json()["results"]
    assert [c["id"] for c in conversations] == [alpha.conversation.pk]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
def test_without_a_token_every_operation_is_401(api, tenants, method, path, body):
    alpha, _ = tenants
    before = _snapshot(alpha)

    response = _call(api, method, path, body, alpha.ids(), {})

    assert response.status_code == 401 and error_of(response)["code"] == "not_authenticated"
    assert _snapshot(alpha) == before


ADMIN_ONLY = [
    op
    for op in OPERATIONS
    if op[1].startswith(("menu/", "templates/", "campaigns/", "staff/"))
    and op[0] != "get"
    and "preview" not in op[1]
    # Integrations are the restaurant's ADMINs' business, reads included (URLs, delivery payloads, keys).
    or op[1].startswith(("webhook-subscriptions/", "api-keys/"))
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY, ids=[f"{m.upper()} {p}" for m, p, _ in ADMIN_ONLY])
def test_an_agent_cannot_do_admin_only_writes(api, tenants, method, path, body):
    alpha, _ = tenants
    agent = staff(alpha.restaurant, role="AGENT")
    before = _snapshot(alpha)

    response = _call(api, method, path, body, alpha.ids(), auth(agent))

    assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    assert _snapshot(alpha) == before


def test_a_member_of_both_restaurants_sees_each_in_its_own_scope(api, tenants):
    alpha, bravo = tenants
    both = staff(alpha.restaurant)
    StaffMembership.objects.create(user=both, restaurant=bravo.restaurant, role="AGENT")
    headers = auth(both)

    in_alpha = _call(api, "get", "conversations/", None, alpha.ids(), headers).json()["results"]
    in_bravo = _call(api, "get", "conversations/", None, bravo.ids(), headers).json()["results"]
    crossed = _call(api, "get", "conversations/{cid}/", None, {**bravo.ids(), "rid": alpha.restaurant.pk}, headers)

    assert [c["id"] for c in in_alpha] == [alpha.conversation.pk]
    assert [c["id"] for c in in_bravo] == [bravo.conversation.pk]
    assert crossed.status_code == 404


def test_the_table_covers_every_restaurant_scoped_route_and_method():
    covered = {(method, path) for method, path, _ in OPERATIONS}
    routes = set()
    for pattern in restaurant_urlpatterns:
        view = pattern.callback.view_class
        route = str(pattern.pattern).replace("<int:", "{").replace(">", "}")
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                routes.add((method, route))

    assert routes == covered


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
def test_an_api_key_with_every_scope_reaches_no_other_restaurant(api, tenants, method, path, body):
    alpha, bravo = tenants
    key = api_key_create(
        restaurant=alpha.restaurant,
        name="all scopes",
        scopes=["orders:read", "orders:write", "messages:send", "menu:manage"],
        requests_per_minute=10_000,
    ).key
    before = _snapshot(bravo)

    response = _call(api, method, path, body, bravo.ids(), {"HTTP_AUTHORIZATION": f"Bearer {key}"})

    assert response.status_code == 404, response.content
    assert not any(marker in response.content.decode() for marker in bravo.markers)
    assert _snapshot(bravo) == before
