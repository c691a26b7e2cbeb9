"""Meta's message_template_status_update webhook (a WhatsApp Business Account change, as Meta's webhook reference
documents it) posted signed to /webhooks/meta/: routed by the business account to its sender, verified with
the sender's app secret, and applied to that restaurant's template only."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from providers import meta
from templates.models import MessageTemplate
from templates.services import template_defaults_ensure, template_submit
from tests.factories import RestaurantFactory, SenderFactory
from tests.fakes.meta_graph import template_status_webhook
from webhooks.models import WebhookEvent

from .conftest import APP_SECRET, WABA_ID

pytestmark = pytest.mark.django_db(transaction=True)


def _submitted(restaurant) -> MessageTemplate:
    template_defaults_ensure(restaurant=restaurant)
    template = MessageTemplate.objects.get(restaurant=restaurant, purpose="rating", language="en")
    return template_submit(template=template)


def _post(payload: dict, *, secret: str = APP_SECRET):
    body = json.dumps(payload).encode()
    return Client().post(
        "/webhooks/meta/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta.sign(app_secret=secret, body=body),
    )


def test_a_signed_template_status_update_approves_the_template(graph, meta_sender):
    template = _submitted(meta_sender.restaurant)
    payload = graph.review(template.meta_template_id, "APPROVED")
    assert payload["entry"][0]["changes"][0]["field"] == "message_template_status_update"

    response = _post(payload)

    assert response.status_code == 200
    template.refresh_from_db()
    assert template.status == "approved"
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and event.sender_id == meta_sender.pk
    assert event.items == [
        {
            "type": "template_status",
            "id": template.meta_template_id,
            "event": "APPROVED",
            "route": WABA_ID,
            "outcome": "applied",
            "reason": "",
        }
    ]


def test_a_rejection_keeps_its_reason_and_a_redelivery_changes_nothing(graph, meta_sender):
    template = _submitted(meta_sender.restaurant)
    payload = graph.review(template.meta_template_id, "REJECTED", reason="INVALID_FORMAT")

    assert _post(payload).status_code == 200
    assert _post(payload).status_code == 200

    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == ("rejected", "INVALID_FORMAT")
    assert [e.items[0]["outcome"] for e in WebhookEvent.objects.order_by("id")] == ["applied", "skipped"]


def test_a_wrong_signature_is_403_and_changes_nothing(graph, meta_sender):
    template = _submitted(meta_sender.restaurant)
    payload = graph.review(template.meta_template_id, "APPROVED")

    assert _post(payload, secret="not-the-app-secret").status_code == 403

    template.refresh_from_db()
    assert template.status == "submitted"


def test_an_unknown_business_account_is_unroutable(graph, meta_sender):
    template = _submitted(meta_sender.restaurant)
    payload = template_status_webhook(
        waba_id="999000999", template_id=template.meta_template_id, name=template.name, language="en", event="APPROVED"
    )

    response = _post(payload)

    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_number"
    template.refresh_from_db()
    assert template.status == "submitted"


def test_another_restaurants_template_id_is_never_touched(graph, meta_sender):
    other = SenderFactory(
        restaurant=RestaurantFactory(),
        provider="meta",
        credentials={
            "phone_number_id": "1065550199",
            "access_token": "other-token",
            "app_secret": "other-secret",
            "business_account_id": "555000555",
        },
        routing_id="1065550199",
    )
    template = _submitted(meta_sender.restaurant)
    # The other restaurant's account, signed with its own secret, naming our template's id.
    payload = template_status_webhook(
        waba_id="555000555", template_id=template.meta_template_id, name=template.name, language="en", event="PAUSED"
    )

    assert _post(payload, secret="other-secret").status_code == 200

    template.refresh_from_db()
    assert template.status == "submitted"
    assert WebhookEvent.objects.get().sender_id == other.pk
