"""100 concurrent deliveries of one MessageSid: one Message row, one conversation, one reply."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from conversations.models import Conversation, Message
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)

DELIVERIES = 100
CONCURRENCY = 20


def test_duplicate_storm_yields_one_message_and_one_reply(fake_twilio):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", body="hello", sid="SM" + "d" * 32)
    start = threading.Barrier(CONCURRENCY)

    def deliver(i: int) -> int:
        try:
            if i < CONCURRENCY:
                start.wait(timeout=30)  # the first wave hits at the same moment
            return signed_post(Client(), sender=sender, params=params).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        statuses = list(pool.map(deliver, range(DELIVERIES)))

    assert statuses == [200] * DELIVERIES
    assert WebhookEvent.objects.count() == DELIVERIES
    assert WebhookEvent.objects.filter(status="processed").count() == DELIVERIES
    assert Conversation.objects.count() == 1
    assert Message.objects.filter(direction="in").count() == 1
    assert Message.objects.filter(direction="out").count() == 1
    assert len(fake_twilio.sent) == 1
    assert Conversation.objects.get().unread_count == 1
