"""360dialog, added the docs/providers.md way: one module, one registry line, this fake. Meta's payloads at
/webhooks/360dialog/, authenticated by the webhook token header, sends to /messages with D360-API-KEY."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from conversations.models import Conversation, Message
from providers.dialog360 import TOKEN_HEADER
from providers.registry import provider_for
from restaurants.services import sender_register
from tests.factories import RestaurantFactory
from tests.fakes.dialog360 import FakeDialog360
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)
API_KEY = "d360-api-key-for-tests-0001"
WEBHOOK_TOKEN = "d360-webhook-token-0001"
NUMBER_ID = "1065557777"


@pytest.fixture
def d360(settings):
    server = FakeDialog360(API_KEY).start()
    settings.D360_API_BASE_URL = server.base_url
    yield server
    server.stop()


@pytest.fixture
def sender():
    return sender_register(
        restaurant=RestaurantFactory(),
        provider="360dialog",
        phone_number="+15550107777",
        credentials={"phone_number_id": NUMBER_ID, "api_key": API_KEY, "webhook_token": WEBHOOK_TOKEN},
    )


def _payload(*messages, statuses=()):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA360",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550107777", "phone_number_id": NUMBER_ID},
                            "contacts": [{"profile": {"name": "Noura"}, "wa_id": "966508034010"}],
                            "messages": list(messages),
                            "statuses": list(statuses),
                        },
                    }
                ],
            }
        ],
    }


def _text(body: str) -> dict:
    return {
        "from": "966508034010",
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def _post(client, payload, token=WEBHOOK_TOKEN):
    headers = {"HTTP_X_SUFRAH_WEBHOOK_TOKEN": token} if token else {}
    return client.post("/webhooks/360dialog/", data=json.dumps(payload), content_type="application/json", **headers)


def test_a_message_is_stored_and_answered_through_360dialogs_api(client, d360, sender):
    response = _post(client, _payload(_text("Hello")))

    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert (conversation.sender_id, conversation.customer_phone, conversation.customer_name) == (
        sender.pk,
        "+966508034010",
        "Noura",
    )
    inbound = Message.objects.get(direction="in")
    assert (inbound.provider, inbound.body) == ("360dialog", "Hello")
    # The reply went to 360dialog's /messages (no phone number id in the path) with the API key header,
    # in Meta's message shape, and its wamid is stored.
    assert d360.requests and all(r["path"] == "/messages" and r["api_key"] == API_KEY for r in d360.requests)
    assert d360.sent[0]["messaging_product"] == "whatsapp" and d360.sent[0]["to"] == "966508034010"
    reply = Message.objects.filter(direction="out").first()
    assert reply.status == "sent" and reply.provider == "360dialog" and reply.provider_message_id == d360.sent[0]["id"]
    event = WebhookEvent.objects.get()
    assert (event.provider, event.status, event.headers[TOKEN_HEADER]) == ("360dialog", "processed", "(present)")


def test_a_missing_or_wrong_webhook_token_is_403(client, d360, sender):
    assert _post(client, _payload(_text("hi")), token="guess").status_code == 403
    assert _post(client, _payload(_text("hi")), token="").status_code == 403
    assert not Message.objects.exists()
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == ["rejected", "rejected"]
    assert WEBHOOK_TOKEN not in json.dumps(list(WebhookEvent.objects.values_list("headers", flat=True)))


def test_statuses_use_meta_shapes_and_a_meta_sender_with_the_same_id_is_another_route(client, d360, sender):
    _post(client, _payload(_text("Hello")))
    reply = Message.objects.filter(direction="out").first()
    delivered = {
        "id": reply.provider_message_id,
        "status": "delivered",
        "timestamp": "1",
        "recipient_id": "966508034010",
    }
    assert _post(client, _payload(statuses=[delivered])).status_code == 200
    reply.refresh_from_db()
    assert reply.status == "delivered"
    # The Meta route does not reach a 360dialog sender: routing ids are per provider.
    response = client.post("/webhooks/meta/", data=json.dumps(_payload(_text("x"))), content_type="application/json")
    assert response.status_code == 404


def test_send_errors_follow_the_cloud_api_rules(client, d360, sender):
    d360.fail_next(1, status=400, code=131026, message="Message undeliverable")
    _post(client, _payload(_text("Hello")))
    reply = Message.objects.filter(direction="out").first()
    assert (reply.status, reply.error_code, reply.attempts) == ("failed", "131026", 1)


def test_the_registry_and_the_schema_describe_it():
    provider = provider_for("360dialog")
    assert [(f.name, f.secret, f.routing) for f in provider.credentials] == [
        ("phone_number_id", False, True),
        ("api_key", True, False),
        ("webhook_token", True, False),
    ]
    assert provider.status_callback_url(base_url="https://bot.example") is None


def test_admin_add_form_has_its_credential_fields(admin_client):
    page = admin_client.get("/admin/restaurants/sender/add/").content.decode()
    assert "360dialog__api_key" in page and "360dialog__webhook_token" in page and "360dialog (Cloud API)" in page
