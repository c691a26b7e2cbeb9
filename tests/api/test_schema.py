"""The OpenAPI schema and its docs page, and a schemathesis run over it: no generated request gets a 5xx.

Schemathesis loads /api/schema/ from the app itself (WSGI, in process: no server, no network) and sends
generated requests, positive and negative, with the token of a restaurant ADMIN; path ids are either
random (mostly 404) or the ids of real rows, so the handlers themselves get fuzzed too. The admin/ routes
run again with a platform admin's token. Each operation gets a bounded number of examples.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from campaigns.models import Campaign
from conversations.models import MessageMedia
from integrations.models import WebhookDelivery
from integrations.services.api_keys import api_key_create
from integrations.services.subscriptions import subscription_create
from templates.services import template_defaults_ensure
from tests.factories import MenuCategoryFactory, MenuItemFactory, MessageFactory, RestaurantFactory, UserFactory
from tests.orders.factories import customer_conversation, placed_order

from .conftest import auth, staff

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 25


def test_the_schema_is_openapi_3_with_errors_pagination_and_bearer_auth(api):
    response = api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    error = schema["components"]["schemas"]["ErrorBody"]
    assert error["properties"]["error"]["$ref"] == "#/components/schemas/Error"
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"code", "message", "details"}
    paginated = schema["components"]["schemas"]["PaginatedMessageList"]
    assert set(paginated["properties"]) == {"next", "previous", "results"}
    messages = schema["paths"]["/api/v1/restaurants/{rid}/conversations/{cid}/messages/"]
    assert {p["name"] for p in messages["get"]["parameters"]} >= {"cursor", "page_size", "rid", "cid"}
    assert {"200", "201", "409"} <= set(messages["post"]["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in messages["post"]["parameters"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not path.startswith("/api/v1/auth/"):
                assert "401" in operation["responses"], (method, path)
    transition = schema["paths"]["/api/v1/restaurants/{rid}/orders/{oid}/transition/"]["post"]
    assert transition["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_the_docs_page_serves_swagger_ui(api):
    response = api.get("/api/docs/")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower() and b"/api/schema/" in response.content


def _fuzz(operation, *, headers: dict[str, str], real_ids: dict[str, int]) -> Counter:
    """Send generated requests for one operation; fail on any 5xx or on an error without the error body.
    Returns how often each status came back."""
    statuses: Counter = Counter()
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in real_ids.items() if name in names}
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if fixed:
        strategies += [
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
            operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed),
        ]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION * len(strategies),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case):
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, f"{response.status_code} for {case.as_curl_command()}"
        if response.status_code >= 400 and response.content:
            body = response.json()
            assert set(body.get("error", {})) == {"code", "message", "details"}, case.as_curl_command()

    run()
    return statuses


@pytest.fixture
def app_schema():
    # Django closes the DB connection at the end of each request; inside a test's transaction that would
    # end the test's data. Its own test client switches this off the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.timeout(600)
def test_generated_requests_never_get_a_server_error(app_schema):
    restaurant = RestaurantFactory()
    member = staff(restaurant, role="ADMIN")
    conversation = customer_conversation(restaurant=restaurant)
    media = MessageMedia(
        restaurant=restaurant,
        message=MessageFactory(conversation=conversation),
        kind="image",
        status="stored",
        content_type="image/png",
    )
    media.file.save("dot.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=False)
    media.save()
    category = MenuCategoryFactory(restaurant=restaurant)
    item = MenuItemFactory(category=category)
    order = placed_order(conversation=conversation)
    sender_id = conversation.sender_id
    template = template_defaults_ensure(restaurant=restaurant)[0]
    platform_admin = UserFactory(is_superuser=True, is_staff=True)
    subscription = subscription_create(
        restaurant=restaurant, url="https://pos.example.com/hooks", events=["order.created"]
    ).subscription
    delivery = WebhookDelivery.objects.create(
        restaurant=restaurant, subscription=subscription, event_id="evt_fuzz", event_type="order.created", body="{}"
    )
    real_ids = {
        "rid": restaurant.pk,
        "cid": conversation.pk,
        "oid": order.pk,
        "category_id": category.pk,
        "item_id": item.pk,
        "sender_id": sender_id,
        "media_id": media.pk,
        "template_id": template.pk,
        "campaign_id": Campaign.objects.create(
            restaurant=restaurant, name="fuzz", template=template, sender=conversation.sender, variables={}
        ).pk,
        "subscription_id": subscription.pk,
        "delivery_id": delivery.pk,
        "key_id": api_key_create(restaurant=restaurant, name="fuzz", scopes=["orders:read"]).api_key.pk,
    }

    operations = [result.ok() for result in app_schema.get_all_operations()]
    assert len(operations) >= 25
    # Deletes last (a sub-resource before its item, items before their categories), so the real rows live for
    # the other operations.
    operations.sort(
        key=lambda op: (
            op.method.upper() == "DELETE",
            "categories" in op.path,
            -op.path.count("/") if op.method.upper() == "DELETE" else 0,
        )
    )
    reached_handler = {}
    for operation in operations:
        token = auth(platform_admin if operation.path.startswith("/api/v1/admin/") else member)
        statuses = _fuzz(operation, headers={"Authorization": token["HTTP_AUTHORIZATION"]}, real_ids=real_ids)
        if operation.path_parameters:
            reached_handler[f"{operation.method.upper()} {operation.path}"] = bool(set(statuses) - {401, 404})
    # With real ids, every operation got past authentication and the tenant lookup at least once.
    assert all(reached_handler.values()), [name for name, reached in reached_handler.items() if not reached]


def test_the_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    assert "ConversationStatusEnum" in target.read_text() and "OrderStatusEnum" in target.read_text()
