"""Opt-in and opt-out: STOP / إيقاف (and the opt-out button) withdraw consent, confirmed in the customer's
language; the bot stays quiet on them; service messages are not affected."""

from __future__ import annotations

import pytest

from campaigns.models import MarketingConsent
from conversations.models import Conversation, Message
from orders.services import order_transition
from sufrahbot.reply_ids import MARKETING_OPT_OUT
from sufrahbot.texts import t as text
from tests.conftest import signed_post, twilio_inbound_params
from tests.orders.factories import customer_conversation, order_in

from .conftest import customers

pytestmark = pytest.mark.django_db(transaction=True)


def _say(client, conversation, body, **extra):
    params = twilio_inbound_params(
        sender=conversation.sender, from_number=conversation.customer_phone, body=body, **extra
    )
    assert signed_post(client, sender=conversation.sender, params=params).status_code == 200


@pytest.mark.parametrize(("word", "language"), [("STOP", "en"), (" stop ", "en"), ("إيقاف", "ar"), ("ايقاف", "ar")])
def test_stop_withdraws_consent_and_confirms_it(client, fake_twilio, sender, word, language):
    [conversation] = customers(sender, 1, language=language)

    _say(client, conversation, word)

    consent = MarketingConsent.objects.get(conversation=conversation)
    assert (consent.opted_in, consent.source) == (False, "keyword")
    replies = Message.objects.filter(conversation=conversation, direction="out")
    assert [m.body for m in replies] == [text("opted_out", language)]  # the confirmation, and no bot answer
    assert fake_twilio.sent[-1]["body"] == text("opted_out", language)


def test_the_opt_out_button_payload_withdraws(client, fake_twilio, sender):
    [conversation] = customers(sender, 1, language="en")

    _say(client, conversation, "Stop promotions", ButtonPayload=MARKETING_OPT_OUT, ButtonText="Stop promotions")

    assert MarketingConsent.objects.get(conversation=conversation).source == "button"
    assert not MarketingConsent.objects.get(conversation=conversation).opted_in


def test_start_gives_consent_with_its_source_and_time(client, fake_twilio, sender):
    conversation = customer_conversation(restaurant=sender.restaurant, language="ar")

    _say(client, conversation, "اشتراك")

    consent = MarketingConsent.objects.get(conversation=conversation)
    assert consent.opted_in and consent.source == "keyword" and consent.changed_at is not None
    assert Message.objects.filter(conversation=conversation, direction="out").get().body == text("opted_in", "ar")


def test_an_opted_out_customer_still_gets_order_notices(client, fake_twilio, sender):
    conversation = customer_conversation(restaurant=sender.restaurant, language="en")
    order = order_in("PREPARING", conversation=conversation)
    _say(client, conversation, "STOP")

    order_transition(order=order, to_status="OUT_FOR_DELIVERY")

    assert "on its way" in fake_twilio.sent[-1]["body"]
    assert Conversation.objects.get(pk=conversation.pk).marketing_consent.opted_in is False


def test_an_ordinary_message_goes_to_the_bot(client, fake_twilio, sender):
    conversation = customer_conversation(restaurant=sender.restaurant, language="en")

    _say(client, conversation, "stop by later?")

    assert not MarketingConsent.objects.filter(conversation=conversation).exists()
    assert Message.objects.filter(conversation=conversation, direction="out").exists()
