"""Customers whose number WhatsApp hides (business-scoped user ids only) are answered, on both providers.

Meta: the Cloud API takes a BSUID in `recipient` (a number goes in `to`, and `to` wins when both are there).
Twilio: the BSUID goes where the number would, `whatsapp:IN.…`; its message list is asked with the same
address when a send timed out, so the reconcile finds the message instead of sending it twice.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from conversations.models import Message
from conversations.services.outbound import message_send
from providers.content import OutboundContent
from providers.meta import message_payload
from tests.factories import ConversationFactory
from tests.webhooks.test_fixtures import graph, meta_sender, post_meta  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

BSUID = "US.13491208655302741918"


def test_meta_payload_sends_a_number_in_to_and_a_bsuid_in_recipient():
    text = OutboundContent.text("hi")
    assert message_payload(to="+966501234567", content=text)["to"] == "966501234567"
    assert "recipient" not in message_payload(to="+966501234567", content=text)
    bsuid_payload = message_payload(to=BSUID, content=text)
    assert bsuid_payload["recipient"] == BSUID and "to" not in bsuid_payload


def test_a_bsuid_only_meta_customer_gets_the_bots_reply(client, meta_sender, graph):  # noqa: F811 - fixtures
    assert post_meta(client, "bsuid_only").status_code == 200

    reply = Message.objects.get(direction="out")
    assert reply.status == "sent"
    [sent] = graph.sent
    assert sent["recipient"] == BSUID and "to" not in sent
    assert reply.provider_message_id == sent["id"]


@pytest.fixture
def bsuid_conversation():
    return ConversationFactory(customer_id="IN.1648738043044942", customer_phone="", last_inbound_at=timezone.now())


def test_a_bsuid_only_twilio_customer_is_sent_to_and_reconciled_by_the_bsuid(bsuid_conversation, fake_twilio, settings):
    settings.PROVIDER_HTTP_TIMEOUT_SECONDS = 0.5
    fake_twilio.delay_next(1, 1.5)  # Twilio takes it and answers after the read timeout

    message = message_send(conversation=bsuid_conversation, content=OutboundContent.text("Your order is ready"))

    message.refresh_from_db()
    [sent] = fake_twilio.sent
    assert sent["to"] == "whatsapp:IN.1648738043044942"
    assert (message.status, message.provider_message_id, message.attempts) == ("sent", sent["sid"], 2)
    assert len([r for r in fake_twilio.state.requests if r.get("form")]) == 1  # found in the list, not resent
