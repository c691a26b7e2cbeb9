"""Embedded mode runs tasks in-process; a retry there waits its backoff (a timer thread), as it would in a
worker's queue, instead of all the attempts running back to back."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from conversations.models import Message
from conversations.services.outbound import message_send
from providers.content import OutboundContent
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _settled(message: Message, timeout: float) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status in ("sent", "failed"):
            return message
        time.sleep(0.05)
    raise AssertionError(f"still {message.status} after {timeout}s")


@pytest.fixture
def waiting_retries(settings):
    settings.EMBEDDED_RETRIES_WAIT = True
    settings.SEND_RETRY_BASE_SECONDS = 0.4
    settings.SEND_RETRY_MAX_SECONDS = 5


def test_a_failed_send_is_retried_after_its_backoff_not_at_once(waiting_retries, fake_twilio, monkeypatch):
    from conversations.services import delivery

    attempts_at: list[float] = []
    real_deliver = delivery.message_deliver

    def timed_deliver(*, message_id: int):
        attempts_at.append(time.monotonic())
        return real_deliver(message_id=message_id)

    monkeypatch.setattr("conversations.tasks.message_deliver", timed_deliver)
    fake_twilio.fail_next(2, status=500)
    conversation = ConversationFactory(last_inbound_at=timezone.now())

    message = message_send(conversation=conversation, content=OutboundContent.text("Your order is ready"))
    message.refresh_from_db()
    # The caller got control back after the first attempt; the retries are still to come.
    assert (message.status, message.attempts, len(attempts_at)) == ("queued", 1, 1)

    message = _settled(message, timeout=15)
    assert (message.status, message.attempts, len(fake_twilio.sent)) == ("sent", 3, 1)
    gaps = [later - earlier for earlier, later in zip(attempts_at, attempts_at[1:], strict=False)]
    # Backoff 0.4 s then 0.8 s, each with ±50 % jitter: at least 0.2 s and 0.4 s.
    assert len(gaps) == 2 and gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps


def test_the_inline_default_of_the_tests_still_retries_at_once(fake_twilio):
    fake_twilio.fail_next(2, status=500)
    conversation = ConversationFactory(last_inbound_at=timezone.now())
    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)
