"""Meta WhatsApp Cloud API: verification handshake, signed webhooks, batched payloads, native sends."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from conversations.models import Conversation, Message
from conversations.services.outbound import message_send
from providers import meta
from providers.content import Button, ListRow, ListSection, OutboundContent
from tests.factories import ConversationFactory, SenderFactory
from tests.fakes.meta_graph import FakeMetaGraph
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)
APP_SECRET = "meta-app-secret-for-tests"
ACCESS_TOKEN = "EAAtesttoken" + "x" * 30


@pytest.fixture
def graph(settings):
    server = FakeMetaGraph(ACCESS_TOKEN).start()
    settings.META_GRAPH_BASE_URL = server.base_url
    settings.META_GRAPH_VERSION = "v21.0"
    yield server
    server.stop()


@pytest.fixture
def meta_sender():
    return SenderFactory(
        provider="meta",
        credentials={"phone_number_id": "1065550101", "access_token": ACCESS_TOKEN, "app_secret": APP_SECRET},
        routing_id="1065550101",
    )


def _payload(sender, *, messages=(), statuses=(), contacts=()):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": sender.phone_number.lstrip("+"),
                                "phone_number_id": sender.routing_id,
                            },
                            "contacts": list(contacts),
                            "messages": list(messages),
                            "statuses": list(statuses),
                        },
                    }
                ],
            }
        ],
    }


def _text(body, wa_id="966508034010", wamid=None):
    return {
        "from": wa_id,
        "id": wamid or f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def _post(client, payload, secret=APP_SECRET):
    body = json.dumps(payload).encode()
    return client.post(
        "/webhooks/meta/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta.sign(app_secret=secret, body=body),
    )


def test_verification_handshake(client, settings):
    settings.META_VERIFY_TOKEN = "let-me-in"
    ok = client.get(
        "/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "let-me-in", "hub.challenge": "42"}
    )
    bad = client.get("/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"})
    assert (ok.status_code, ok.content, ok["Content-Type"]) == (200, b"42", "text/plain")
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "verification_failed"


def test_signed_batch_with_two_messages_lands_once_each_and_gets_native_buttons(client, graph, meta_sender):
    payload = _payload(
        meta_sender,
        contacts=[{"profile": {"name": "Omar"}, "wa_id": "966508034010"}],
        messages=[_text("Hello"), _text("Menu please")],
    )

    assert _post(client, payload).status_code == 200
    assert _post(client, payload).status_code == 200  # Meta re-sends: still one row per wamid

    conversation = Conversation.objects.get()
    assert conversation.customer_phone == "+966508034010" and conversation.customer_name == "Omar"
    assert Message.objects.filter(direction="in").count() == 2
    assert WebhookEvent.objects.filter(provider="meta", status="processed").count() == 2
    assert graph.sent and all(s["to"] == "966508034010" for s in graph.sent)
    assert any(s["type"] == "interactive" for s in graph.sent)
    assert Message.objects.filter(direction="out", status="sent", provider_message_id__startswith="wamid.").exists()


def test_wrong_signature_is_403_and_nothing_processed(client, graph, meta_sender):
    response = _post(client, _payload(meta_sender, messages=[_text("hi")]), secret="not-the-secret")
    assert response.status_code == 403
    assert WebhookEvent.objects.get().status == "rejected" and not Message.objects.exists()


def test_unknown_phone_number_id_is_404_unroutable(client, meta_sender):
    payload = _payload(meta_sender, messages=[_text("hi")])
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    assert _post(client, payload).status_code == 404
    assert WebhookEvent.objects.get().status == "unroutable"


@pytest.mark.parametrize("body", [b"not json", b'{"object": "page"}', b'{"object": "whatsapp_business_account"}'])
def test_malformed_payload_is_400(client, meta_sender, body):
    response = client.post(
        "/webhooks/meta/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta.sign(app_secret=APP_SECRET, body=body),
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed"
    assert bytes(WebhookEvent.objects.get().body) == body


def test_status_webhook_moves_forward_only_and_keeps_the_failure(client, meta_sender):
    conversation = ConversationFactory(sender=meta_sender)
    message = Message.objects.create(
        restaurant=conversation.restaurant,
        conversation=conversation,
        direction="out",
        provider="meta",
        provider_message_id="wamid.abc",
        status="sent",
        status_rank=3,
    )
    for status in ("read", "delivered"):
        _post(client, _payload(meta_sender, statuses=[{"id": "wamid.abc", "status": status, "timestamp": "1"}]))
    message.refresh_from_db()
    assert message.status == "read"
    _post(
        client,
        _payload(
            meta_sender,
            statuses=[
                {
                    "id": "wamid.abc",
                    "status": "failed",
                    "timestamp": "2",
                    "errors": [{"code": 131047, "title": "Re-engagement message"}],
                }
            ],
        ),
    )
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_message) == ("failed", "131047", "Re-engagement message")


def test_interactive_reply_and_location_are_parsed():
    change = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": "1", "display_phone_number": "15550100"},
                            "messages": [
                                {
                                    "from": "966508034010",
                                    "id": "wamid.1",
                                    "timestamp": "1",
                                    "type": "interactive",
                                    "interactive": {
                                        "type": "list_reply",
                                        "list_reply": {"id": "item:7", "title": "Kabsa"},
                                    },
                                },
                                {
                                    "from": "966508034010",
                                    "id": "wamid.2",
                                    "timestamp": "1",
                                    "type": "location",
                                    "location": {
                                        "latitude": 24.7,
                                        "longitude": 46.6,
                                        "name": "Home",
                                        "address": "Olaya St",
                                    },
                                },
                            ],
                        },
                    }
                ],
            }
        ],
    }
    (_, reply), (_, location) = meta.parse_payload(json.dumps(change).encode()).items
    assert (reply.kind, reply.reply_id, reply.text) == ("interactive", "item:7", "Kabsa")
    assert (location.kind, location.latitude, location.longitude, location.address) == (
        "location",
        24.7,
        46.6,
        "Home — Olaya St",
    )
    assert location.details["location"] == {"name": "Home", "address": "Olaya St"}


def test_send_uses_native_interactive_payloads_and_retries_5xx(graph, meta_sender):
    from django.utils import timezone

    conversation = ConversationFactory(sender=meta_sender, last_inbound_at=timezone.now())
    graph.fail_next(1, status=500)
    content = OutboundContent(
        kind="list",
        body="Pick a dish",
        button_label="Menu",
        sections=(ListSection("Grills", (ListRow("item:1", "Kebab", "38 SAR"),)),),
    )
    message = message_send(conversation=conversation, content=content)
    message_send(
        conversation=conversation,
        content=OutboundContent(kind="buttons", body="Checkout?", buttons=(Button("yes", "Yes"), Button("no", "No"))),
    )
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 2
    list_payload, buttons_payload = graph.sent
    assert list_payload["interactive"]["action"]["sections"][0]["rows"][0] == {
        "id": "item:1",
        "title": "Kebab",
        "description": "38 SAR",
    }
    assert [b["reply"]["id"] for b in buttons_payload["interactive"]["action"]["buttons"]] == ["yes", "no"]
    assert graph.requests[0]["auth"] == f"Bearer {ACCESS_TOKEN}"


def test_send_permanent_error_fails_at_once(graph, meta_sender):
    from django.utils import timezone

    conversation = ConversationFactory(sender=meta_sender, last_inbound_at=timezone.now())
    graph.fail_next(1, status=400, code=131026, message="Message undeliverable")
    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))
    message.refresh_from_db()
    assert (message.status, message.error_code, message.attempts) == ("failed", "131026", 1)
