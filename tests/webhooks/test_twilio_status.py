"""Status callbacks move a message forward only; failed/undelivered are final and keep the error code."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from conversations.models import Message
from tests.conftest import signed_post
from tests.factories import ConversationFactory
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)
STATUS_PATH = "/webhooks/twilio/status/"


@pytest.fixture
def sent_message():
    conversation = ConversationFactory()
    return Message.objects.create(
        restaurant=conversation.restaurant,
        conversation=conversation,
        direction="out",
        provider="twilio",
        provider_message_id="SM" + "b" * 32,
        body="hi",
        status="sent",
        status_rank=3,
    )


def _callback(client, message, status, **extra):
    sender = message.conversation.sender
    params = {
        "MessageSid": message.provider_message_id,
        "MessageStatus": status,
        "AccountSid": sender.credentials["account_sid"],
        "From": f"whatsapp:{sender.phone_number}",
        "To": f"whatsapp:{message.conversation.customer_phone}",
        **extra,
    }
    return signed_post(client, sender=sender, params=params, path=STATUS_PATH)


def _status(message):
    message.refresh_from_db()
    return message.status


def test_callbacks_in_order_move_status_forward(client, sent_message):
    for status in ("sent", "delivered", "read"):
        assert _callback(client, sent_message, status).status_code == 200
    assert _status(sent_message) == "read"
    assert WebhookEvent.objects.filter(kind="status", status="processed").count() == 3


def test_out_of_order_callbacks_never_move_status_backwards(client, sent_message):
    _callback(client, sent_message, "read")
    _callback(client, sent_message, "delivered")
    _callback(client, sent_message, "sent")
    assert _status(sent_message) == "read"


def test_failed_is_final_and_keeps_the_error(client, sent_message):
    _callback(client, sent_message, "failed", ErrorCode="63016", ErrorMessage="Outside the 24h window")
    _callback(client, sent_message, "delivered")
    _callback(client, sent_message, "read")
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.error_code) == ("failed", "63016")
    assert sent_message.error_message == "Outside the 24h window"


def test_undelivered_is_final(client, sent_message):
    _callback(client, sent_message, "undelivered", ErrorCode="30008")
    _callback(client, sent_message, "delivered")
    assert _status(sent_message) == "undelivered"


def test_unsigned_status_callback_is_refused(client, sent_message):
    sender = sent_message.conversation.sender
    params = {
        "MessageSid": sent_message.provider_message_id,
        "MessageStatus": "read",
        "From": f"whatsapp:{sender.phone_number}",
        "To": "whatsapp:+966500000000",
    }
    response = client.post(STATUS_PATH, data=urlencode(params), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403
    assert _status(sent_message) == "sent"


def test_unknown_status_value_is_recorded_and_skipped(client, sent_message):
    response = _callback(client, sent_message, "teleported")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and _status(sent_message) == "sent"
    assert event.items[0] | {"route": ""} == {
        "type": "status",
        "id": sent_message.provider_message_id,
        "status": "teleported",
        "outcome": "skipped",
        "reason": "unknown status 'teleported'",
        "route": "",
    }


def test_callback_for_an_unknown_message_is_recorded_and_skipped(client, sent_message):
    # A message sent from the Business app or another integration on the same number: not ours, not an error.
    sent_message.provider_message_id = "SM" + "c" * 32  # not saved: a sid the database has never seen
    response = _callback(client, sent_message, "delivered")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and event.error == ""
    assert [(i["outcome"], i["reason"]) for i in event.items] == [("skipped", "not a message of ours")]


def test_a_signed_callback_of_one_restaurant_cannot_touch_another_restaurants_message(client, sent_message):
    other_sender = ConversationFactory().sender  # another restaurant, its own valid Twilio credentials
    params = {
        "MessageSid": sent_message.provider_message_id,
        "MessageStatus": "failed",
        "ErrorCode": "30008",
        "From": f"whatsapp:{other_sender.phone_number}",
        "To": "whatsapp:+966500000000",
    }

    response = signed_post(client, sender=other_sender, params=params, path=STATUS_PATH)

    assert response.status_code == 200  # signed and routable: stored, then refused by the tenant scope
    assert _status(sent_message) == "sent"
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and event.items[0]["outcome"] == "skipped"
