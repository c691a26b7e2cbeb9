"""Storing a message and answering it are two steps: the answer happens once, whatever is replayed."""

from __future__ import annotations

import pytest
from django.test import Client

from bot.services import inbound_answer
from conversations.models import Message
from conversations.services.handoff import conversation_handoff
from conversations.services.inbound import message_receive
from providers import twilio
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_stored_message_is_answered_once_however_often_the_answer_step_runs(fake_twilio):
    sender = SenderFactory()
    inbound = twilio.parse_inbound(twilio_inbound_params(sender=sender, from_number="+966508034011", body="hello"))

    message, created = message_receive(sender=sender, inbound=inbound)
    assert created and Message.objects.get(pk=message.pk).awaiting_bot
    assert Message.objects.filter(direction="out").count() == 0  # storing does not answer

    assert inbound_answer(message=message, inbound=inbound) is True
    assert inbound_answer(message=message, inbound=inbound) is False
    assert Message.objects.filter(direction="out").count() == 1
    assert not Message.objects.get(pk=message.pk).awaiting_bot
    assert len(fake_twilio.sent) == 1


def test_a_message_stored_before_a_crash_is_answered_when_the_provider_redelivers(fake_twilio):
    """The worker died after storing (the answer step never ran): the redelivered webhook finds the row
    stored, answers it, and a third delivery changes nothing."""
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034012", body="hello")
    message_receive(sender=sender, inbound=twilio.parse_inbound(params))  # stored and committed, not answered

    assert signed_post(Client(), sender=sender, params=params).status_code == 200
    assert Message.objects.filter(direction="in").count() == 1
    assert Message.objects.filter(direction="out").count() == 1
    assert signed_post(Client(), sender=sender, params=params).status_code == 200
    assert Message.objects.filter(direction="out").count() == 1
    assert WebhookEvent.objects.filter(status="processed").count() == 2
    assert len(fake_twilio.sent) == 1


def test_a_message_received_while_staff_have_the_conversation_is_not_answered_later():
    sender = SenderFactory()
    first = twilio.parse_inbound(twilio_inbound_params(sender=sender, from_number="+966508034013", body="hello"))
    message, _ = message_receive(sender=sender, inbound=first)
    conversation_handoff(conversation=message.conversation)

    assert inbound_answer(message=message, inbound=first) is True  # handled: the bot chose silence
    assert inbound_answer(message=message, inbound=first) is False
    assert Message.objects.filter(direction="out").count() == 0
    assert not Message.objects.get(pk=message.pk).awaiting_bot
