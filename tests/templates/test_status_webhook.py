"""Meta's message_template_status_update webhook (a WhatsApp Business Account change, as Meta's webhook reference
documents it) posted signed to /webhooks/meta/: routed by the business account to its sender, verified with
the sender's app secret, and applied to that restaurant's template only."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from providers import meta
from templates.models import MessageTemplate
from templates.services import template_create, template_defaults_ensure, template_submit, template_update
from tests.factories import RestaurantFactory, SenderFactory
from tests.fakes.meta_graph import template_status_webhook
from webhooks.models import WebhookEvent
from webhooks.processing import webhook_event_process

from .conftest import ACCESS_TOKEN, APP_SECRET, WABA_ID

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


# --- several restaurants on one WhatsApp Business Account ------------------------------------------------------


def _neighbour(*, number_id: str = "1065550188", secret: str = APP_SECRET, waba_id: str = WABA_ID):
    """Another restaurant whose Meta sender is on the same business account (the same app, by default)."""
    return SenderFactory(
        restaurant=RestaurantFactory(),
        provider="meta",
        credentials={
            "phone_number_id": number_id,
            "access_token": ACCESS_TOKEN,
            "app_secret": secret,
            "business_account_id": waba_id,
        },
        routing_id=number_id,
    )


def _own(restaurant, name: str) -> MessageTemplate:
    template = template_create(
        restaurant=restaurant,
        data={"name": name, "language": "en", "category": "UTILITY", "body": "Your table is ready, {{name}}."},
    )
    return template_submit(template=template)


def test_the_news_reaches_the_restaurant_that_owns_the_template_not_just_the_first_on_the_account(graph, meta_sender):
    neighbour = _neighbour()
    first = _submitted(meta_sender.restaurant)
    second = _own(neighbour.restaurant, "table_ready")

    assert _post(graph.review(second.meta_template_id, "APPROVED")).status_code == 200

    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.status, first.status) == ("approved", "submitted")
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and event.items[0]["outcome"] == "applied"
    assert event.items[0]["reason"] == "1 of 2 restaurants on the account"


def test_each_restaurant_with_that_template_on_the_account_follows_its_own_row(graph, meta_sender):
    neighbour = _neighbour()
    first = _submitted(meta_sender.restaurant)
    # The neighbour's row for the same Meta template (same name, language and id in the shared account).
    template_defaults_ensure(restaurant=neighbour.restaurant)
    twin = MessageTemplate.objects.get(restaurant=neighbour.restaurant, purpose="rating", language="en")
    MessageTemplate.objects.filter(pk=twin.pk).update(status="submitted", meta_template_id=first.meta_template_id)
    # A row of the same name and language that Meta never created under this id is not the same template.
    stranger = _neighbour(number_id="1065550166")
    template_defaults_ensure(restaurant=stranger.restaurant)
    refused = MessageTemplate.objects.get(restaurant=stranger.restaurant, purpose="rating", language="en")
    MessageTemplate.objects.filter(pk=refused.pk).update(status="rejected", rejection_reason="already exists")

    assert _post(graph.review(first.meta_template_id, "REJECTED", reason="INVALID_FORMAT")).status_code == 200

    rows = {t.pk: t for t in MessageTemplate.objects.filter(pk__in=[first.pk, twin.pk, refused.pk])}
    assert (rows[first.pk].status, rows[first.pk].rejection_reason) == ("rejected", "INVALID_FORMAT")
    assert (rows[twin.pk].status, rows[twin.pk].rejection_reason) == ("rejected", "INVALID_FORMAT")
    assert (rows[refused.pk].status, rows[refused.pk].rejection_reason) == ("rejected", "already exists")
    assert WebhookEvent.objects.get().items[0]["reason"] == "2 of 3 restaurants on the account"


def test_every_sender_on_the_account_must_accept_the_signature(graph, meta_sender):
    _neighbour(secret="the-neighbours-own-app-secret")
    template = _submitted(meta_sender.restaurant)
    payload = graph.review(template.meta_template_id, "APPROVED")

    for secret in (APP_SECRET, "the-neighbours-own-app-secret"):
        response = _post(payload, secret=secret)
        assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_signature"

    template.refresh_from_db()
    assert template.status == "submitted"
    assert set(WebhookEvent.objects.values_list("status", "signature_valid")) == {("rejected", False)}


def test_a_sender_added_to_the_account_after_admission_gets_nothing_from_a_replay(graph, meta_sender):
    template = _submitted(meta_sender.restaurant)
    assert _post(graph.review(template.meta_template_id, "PAUSED")).status_code == 200
    event = WebhookEvent.objects.get()
    # Later: another restaurant on the account, with its own app secret and a row naming the same template.
    latecomer = _neighbour(secret="signed-by-another-app")
    template_defaults_ensure(restaurant=latecomer.restaurant)
    theirs = MessageTemplate.objects.get(restaurant=latecomer.restaurant, purpose="rating", language="en")
    MessageTemplate.objects.filter(pk=theirs.pk).update(status="submitted", meta_template_id=template.meta_template_id)
    WebhookEvent.objects.filter(pk=event.pk).update(status="received")

    assert webhook_event_process(event_id=event.pk) == "processed"

    theirs.refresh_from_db()
    template.refresh_from_db()
    assert (template.status, theirs.status) == ("paused", "submitted")


def test_a_template_edited_since_it_was_submitted_does_not_take_the_old_verdict(graph, meta_sender):
    template = _submitted(meta_sender.restaurant)
    template = template_update(template=template, data={"footer": "Sufrah"})
    assert template.status == "draft" and template.meta_template_id

    assert _post(graph.review(template.meta_template_id, "APPROVED")).status_code == 200

    template.refresh_from_db()
    assert template.status == "draft"
    assert WebhookEvent.objects.get().items[0]["outcome"] == "skipped"
