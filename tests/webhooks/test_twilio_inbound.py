from __future__ import annotations

from urllib.parse import urlencode

import pytest

from conversations.models import Conversation, Message
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from webhooks.models import WebhookEvent

# Real commits: on-commit hooks enqueue the (eager) tasks exactly as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def test_signed_message_is_stored_processed_and_answered_in_the_customers_language(client, fake_twilio):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", body="مرحبا")

    response = signed_post(client, sender=sender, params=params)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and event.signature_valid is True
    assert event.restaurant_id == sender.restaurant_id
    conversation = Conversation.objects.get()
    assert (conversation.restaurant_id, conversation.customer_phone) == (sender.restaurant_id, "+966508034010")
    assert conversation.customer_name == "Layla" and conversation.unread_count == 1
    inbound = Message.objects.get(direction="in")
    assert inbound.body == "مرحبا" and inbound.provider_message_id == params["MessageSid"]
    reply = Message.objects.get(direction="out")
    assert reply.status == "sent" and reply.provider_message_id.startswith("SM")
    assert len(fake_twilio.sent) == 1
    sent = fake_twilio.sent[0]
    assert sent["to"] == "whatsapp:+966508034010" and sent["from"] == f"whatsapp:{sender.phone_number}"
    assert sent["body"].startswith(sender.restaurant.welcome_text_ar)  # the bot's welcome, in Arabic
    assert sent["status_callback"] == "https://bot.sufrah.test/webhooks/twilio/status/"


def test_missing_or_wrong_signature_is_refused_stored_and_not_processed(client, fake_twilio):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010")

    unsigned = client.post(
        "/webhooks/twilio/", data=urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    forged = signed_post(client, sender=sender, params=params, token="0" * 32)

    for response in (unsigned, forged):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "invalid_signature"
    assert list(WebhookEvent.objects.values_list("status", "signature_valid")) == [("rejected", False)] * 2
    assert not Message.objects.exists() and fake_twilio.sent == []


def test_tampered_body_fails_the_signature(client, fake_twilio):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", body="1 shawarma")
    from providers import twilio
    from tests.conftest import PUBLIC_BASE_URL

    signature = twilio.sign(
        auth_token=sender.credentials["auth_token"], url=PUBLIC_BASE_URL + "/webhooks/twilio/", params=params
    )
    params["Body"] = "100 shawarma"
    response = client.post(
        "/webhooks/twilio/",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 403


def test_signature_behind_a_proxy_uses_the_forwarded_url(client, settings, fake_twilio):
    settings.PUBLIC_BASE_URL = ""
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010")
    from providers import twilio

    public = "https://public.example.com/webhooks/twilio/"
    signature = twilio.sign(auth_token=sender.credentials["auth_token"], url=public, params=params)
    proxied = client.post(
        "/webhooks/twilio/",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="public.example.com",
    )
    assert proxied.status_code == 200
    # The same signature seen without the forwarding headers is for another URL: refused.
    direct = client.post(
        "/webhooks/twilio/",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert direct.status_code == 403
    assert WebhookEvent.objects.order_by("id").first().url == public


def test_unknown_number_is_404_and_stored_as_unroutable(client, fake_twilio):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010")
    params["To"] = "whatsapp:+15559999999"

    response = signed_post(client, sender=sender, params=params)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_number"
    event = WebhookEvent.objects.get()
    assert event.status == "unroutable" and "+15559999999" in event.error
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("To"),
        lambda p: p.update(To="whatsapp:not-a-number"),
        lambda p: p.pop("MessageSid"),
        lambda p: p.update(NumMedia="many"),
        lambda p: p.update(Latitude="north", Longitude="1"),
    ],
    ids=["no-to", "bad-to", "no-sid", "bad-num-media", "bad-location"],
)
def test_malformed_body_is_400_with_the_error_body(client, fake_twilio, mutate):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010")
    mutate(params)

    response = signed_post(client, sender=sender, params=params)

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "malformed" and body["error"]["message"]
    assert WebhookEvent.objects.get().status == "rejected"
    assert not Message.objects.exists()


def test_json_body_is_refused_as_malformed_but_still_stored(client):
    response = client.post("/webhooks/twilio/", data='{"hello": 1}', content_type="application/json")
    assert response.status_code == 400
    assert bytes(WebhookEvent.objects.get().body) == b'{"hello": 1}'


def test_two_restaurants_numbers_route_to_two_conversations(client, fake_twilio):
    first, second = SenderFactory(), SenderFactory()
    customer = "+966508034010"

    for sender in (first, second):
        assert (
            signed_post(
                client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=customer)
            ).status_code
            == 200
        )

    conversations = Conversation.objects.order_by("restaurant_id")
    assert [c.restaurant_id for c in conversations] == sorted([first.restaurant_id, second.restaurant_id])
    assert {(m.conversation.restaurant_id, m.restaurant_id) for m in Message.objects.all()} == {
        (first.restaurant_id, first.restaurant_id),
        (second.restaurant_id, second.restaurant_id),
    }
    welcome_by_sender = {s["from"]: s["body"] for s in fake_twilio.sent}
    assert set(welcome_by_sender) == {f"whatsapp:{first.phone_number}", f"whatsapp:{second.phone_number}"}
    for sender in (first, second):
        assert welcome_by_sender[f"whatsapp:{sender.phone_number}"].startswith(sender.restaurant.welcome_text_en)


def test_redelivery_of_the_same_message_sid_is_stored_but_answered_once(client, fake_twilio):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", sid="SM" + "a" * 32)

    for _ in range(3):
        assert signed_post(client, sender=sender, params=params).status_code == 200

    assert WebhookEvent.objects.filter(status="processed").count() == 3
    assert Message.objects.filter(direction="in").count() == 1
    assert len(fake_twilio.sent) == 1
    assert Conversation.objects.get().unread_count == 1


def test_wrong_method_gets_405_with_the_error_body(client):
    response = client.get("/webhooks/twilio/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert not WebhookEvent.objects.exists()


def test_control_characters_in_a_message_are_dropped_not_fatal(client, fake_twilio):
    sender = SenderFactory()
    params = twilio_inbound_params(
        sender=sender, from_number="+966508034010", body="hel\x00lo\x07", ProfileName="La\x00yla"
    )

    assert signed_post(client, sender=sender, params=params).status_code == 200

    assert WebhookEvent.objects.get().status == "processed"
    inbound = Message.objects.get(direction="in")
    assert inbound.body == "hello" and inbound.conversation.customer_name == "Layla"
    assert len(fake_twilio.sent) == 1


@pytest.mark.parametrize(
    "signed_url, received_url",
    [
        ("https://bot.example.com/webhooks/twilio/", "https://bot.example.com/webhooks/twilio/"),
        # Twilio signs the URL as configured: with the default port, or without it, whichever we receive.
        ("https://bot.example.com:443/webhooks/twilio/", "https://bot.example.com/webhooks/twilio/"),
        ("https://bot.example.com/webhooks/twilio/", "https://bot.example.com:443/webhooks/twilio/"),
    ],
)
def test_the_signature_over_the_url_with_or_without_its_port_is_accepted(signed_url, received_url):
    from providers import twilio

    params = {"MessageSid": "SM1", "Body": "مرحبا", "From": "whatsapp:+966501234567"}
    signature = twilio.sign(auth_token="token-1", url=signed_url, params=params)
    assert twilio.verify_signature(auth_token="token-1", url=received_url, params=params, signature=signature)
    assert not twilio.verify_signature(auth_token="token-2", url=received_url, params=params, signature=signature)
    tampered = {**params, "Body": "hi"}
    assert not twilio.verify_signature(auth_token="token-1", url=received_url, params=tampered, signature=signature)
    assert not twilio.verify_signature(auth_token="token-1", url=received_url, params=params, signature="مرحبا")

