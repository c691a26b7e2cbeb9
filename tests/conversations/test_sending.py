"""Outbound sending: retries with backoff on transient errors, permanent errors fail at once, dead letters."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from conversations.models import Message
from conversations.services.delivery import message_deliver
from conversations.services.outbound import OutsideServiceWindow, message_retry, message_send
from providers.content import OutboundContent
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation():
    from django.utils import timezone

    return ConversationFactory(last_inbound_at=timezone.now())


def test_send_retries_on_500_then_succeeds_once(conversation, fake_twilio):
    fake_twilio.fail_next(2, status=500)

    message = message_send(conversation=conversation, content=OutboundContent.text("Your order is ready"))

    message.refresh_from_db()
    assert message.status == "sent" and message.provider_message_id.startswith("SM")
    assert message.attempts == 3
    assert len(fake_twilio.state.requests) == 3 and len(fake_twilio.sent) == 1
    assert fake_twilio.sent[0]["body"] == "Your order is ready"


def test_send_retries_on_429_rate_limit(conversation, fake_twilio):
    fake_twilio.fail_next(1, status=429, code=20429, message="Too Many Requests")

    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))

    message.refresh_from_db()
    assert (message.status, message.attempts, len(fake_twilio.sent)) == ("sent", 2, 1)


def test_retry_exhaustion_leaves_a_visible_failed_message_with_the_providers_error(conversation, fake_twilio, settings):
    settings.SEND_MAX_RETRIES = 3
    fake_twilio.fail_next(10, status=503, code=20503, message="Service Unavailable")

    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))

    message.refresh_from_db()
    assert message.status == "failed"
    assert message.error_code == "20503" and "Service Unavailable" in message.error_message
    assert message.attempts == 4 and fake_twilio.sent == []


def test_permanent_error_fails_at_once_without_retry(conversation, fake_twilio):
    fake_twilio.fail_next(1, status=400, code=21211, message="Invalid 'To' Phone Number")

    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))

    message.refresh_from_db()
    assert (message.status, message.error_code, message.attempts) == ("failed", "21211", 1)
    assert len(fake_twilio.state.requests) == 1


def test_outside_24h_window_is_refused_before_any_send(fake_twilio):
    from datetime import timedelta

    from django.utils import timezone

    stale = ConversationFactory(last_inbound_at=timezone.now() - timedelta(hours=24, minutes=1))
    with pytest.raises(OutsideServiceWindow):
        message_send(conversation=stale, content=OutboundContent.text("hello again"))
    assert not Message.objects.exists() and fake_twilio.state.requests == []


def test_failed_message_is_retried_from_admin_and_then_sent(conversation, fake_twilio, admin_user):
    fake_twilio.fail_next(1, status=400, code=63016, message="Outside the allowed window")
    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))
    message.refresh_from_db()
    assert message.status == "failed"

    model_admin = site._registry[Message]
    request = RequestFactory().post("/admin/conversations/message/")
    request.user = admin_user
    request._messages = _Messages()
    model_admin.retry_failed(request, Message.objects.filter(pk=message.pk))

    message.refresh_from_db()
    assert message.status == "sent" and len(fake_twilio.sent) == 1
    assert "1 message(s) queued again." in request._messages.texts


def test_delivering_twice_never_sends_a_message_that_already_has_a_provider_id(conversation, fake_twilio):
    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))

    assert message_deliver(message_id=message.pk).result == "skipped"
    assert message_retry(message=message) is False
    assert len(fake_twilio.sent) == 1


def test_send_over_the_senders_rate_cap_is_rescheduled_not_failed(conversation, fake_twilio):
    sender = conversation.sender
    sender.messages_per_minute = 1
    sender.save()
    message_send(conversation=conversation, content=OutboundContent.text("first"))
    second = Message.objects.create(
        restaurant=conversation.restaurant,
        conversation=conversation,
        direction="out",
        provider="twilio",
        body="second",
        content=OutboundContent.text("second").to_dict(),
        status="queued",
        status_rank=1,
    )

    outcome = message_deliver(message_id=second.pk)

    second.refresh_from_db()
    assert outcome.result == "throttled" and 0 < outcome.retry_in <= 60
    assert second.status == "queued" and second.attempts == 0
    assert [s["body"] for s in fake_twilio.sent] == ["first"]


class _Messages:
    def __init__(self):
        self.texts = []

    def add(self, level, message, extra_tags=""):
        self.texts.append(str(message))
