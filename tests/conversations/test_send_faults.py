"""Sends that end badly: a read timeout is ambiguous (reconcile, never resend blindly), a connect error is
safe to retry, and the stranded-send sweep re-queues what a lost task or a killed worker left unsent."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Message
from conversations.services.outbound import message_send
from conversations.tasks import resend_stranded_messages
from providers.content import OutboundContent
from tests.factories import ConversationFactory, SenderFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation():
    return ConversationFactory(last_inbound_at=timezone.now())


@pytest.fixture
def silent_server():
    """Accepts connections (the kernel's backlog) and never answers: every request ends in a read timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def _closed_port_url() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}"


def test_a_read_timeout_after_twilio_took_the_message_sends_it_once(conversation, fake_twilio, settings):
    settings.PROVIDER_HTTP_TIMEOUT_SECONDS = 0.5
    fake_twilio.delay_next(1, 1.5)  # Twilio accepts at once and answers after the client gave up

    message = message_send(conversation=conversation, content=OutboundContent.text("Your order is ready"))

    message.refresh_from_db()
    [sent] = fake_twilio.sent
    assert (message.status, message.provider_message_id) == ("sent", sent["sid"])
    assert message.attempts == 2 and not message.send_unconfirmed
    posts = [r for r in fake_twilio.state.requests if r["form"]]
    assert len(posts) == 1  # the second attempt asked Twilio's message list instead of posting again


def test_a_read_timeout_when_twilio_has_no_record_sends_again(conversation, fake_twilio, settings, silent_server):
    settings.PROVIDER_HTTP_TIMEOUT_SECONDS = 0.3
    settings.SEND_MAX_RETRIES = 0
    settings.TWILIO_API_BASE_URL = silent_server  # the first attempt goes nowhere and times out reading

    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))
    message.refresh_from_db()
    assert (message.status, message.error_code, message.send_unconfirmed) == ("failed", "timeout_unconfirmed", False)

    # Staff retry from admin after checking: the list says nothing was sent, so it is sent now, once.
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    Message.objects.filter(pk=message.pk).update(status="queued", send_unconfirmed=True, attempts=0)
    from conversations.tasks import send_message

    send_message.delay(message.pk)
    message.refresh_from_db()
    assert message.status == "sent" and [s["sid"] for s in fake_twilio.sent] == [message.provider_message_id]


def test_reconciling_skips_a_twin_message_already_recorded(conversation, fake_twilio, settings):
    earlier = message_send(conversation=conversation, content=OutboundContent.text("menu"))
    earlier.refresh_from_db()
    assert earlier.status == "sent"
    settings.PROVIDER_HTTP_TIMEOUT_SECONDS = 0.5
    fake_twilio.delay_next(1, 1.5)

    again = message_send(conversation=conversation, content=OutboundContent.text("menu"))

    again.refresh_from_db()
    assert len(fake_twilio.sent) == 2
    assert again.provider_message_id == fake_twilio.sent[1]["sid"] != earlier.provider_message_id


def test_a_connect_error_is_retried_and_never_marked_unconfirmed(conversation, settings):
    settings.TWILIO_API_BASE_URL = _closed_port_url()
    settings.SEND_MAX_RETRIES = 2

    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))

    message.refresh_from_db()
    assert (message.status, message.error_code, message.attempts) == ("failed", "network", 3)
    assert not message.send_unconfirmed


def test_meta_read_timeout_is_not_resent_and_says_why(settings, silent_server):
    settings.META_GRAPH_BASE_URL = silent_server
    settings.PROVIDER_HTTP_TIMEOUT_SECONDS = 0.3
    sender = SenderFactory(
        provider="meta",
        credentials={"phone_number_id": "1065550199", "access_token": "EAAG-test-token", "app_secret": "s3cret"},
        routing_id="1065550199",
    )
    conversation = ConversationFactory(sender=sender, last_inbound_at=timezone.now())

    message = message_send(conversation=conversation, content=OutboundContent.text("hi"))

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "timeout_unconfirmed")
    assert message.attempts == 2  # one send, then the reconcile step that refuses to resend blindly
    assert "not resent automatically" in message.error_message


# --- the stranded-send sweep ------------------------------------------------------------------------------


def _stranded(conversation, *, status="queued", age=timedelta(minutes=5), **fields) -> Message:
    """An outbound row as a lost task / killed worker leaves it (no task will ever come for it)."""
    message = Message.objects.create(
        conversation=conversation,
        restaurant=conversation.restaurant,
        direction="out",
        provider="twilio",
        body="Your order is ready",
        content=OutboundContent.text("Your order is ready").to_dict(),
        status=status,
        **fields,
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - age, updated_at=timezone.now() - age)
    return message


def test_the_sweep_sends_queued_rows_whose_task_was_lost_and_leaves_fresh_and_backing_off_rows(
    conversation, fake_twilio
):
    lost = _stranded(conversation)
    fresh = _stranded(conversation, age=timedelta(seconds=1))
    backing_off = _stranded(conversation, next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert resend_stranded_messages.apply().result == 1

    statuses = dict(Message.objects.filter(direction="out").values_list("pk", "status"))
    assert statuses == {lost.pk: "sent", fresh.pk: "queued", backing_off.pk: "queued"}
    assert len(fake_twilio.sent) == 1
    assert resend_stranded_messages.apply().result == 0  # nothing left to take


def test_an_expired_claim_of_a_worker_killed_mid_send_is_taken_over_and_reconciled(conversation, fake_twilio):
    # The killed worker got its request to Twilio (Twilio holds the message) but died before storing the sid.
    died_after_sending = _stranded(conversation, status="sending", age=timedelta(minutes=10), attempts=1)
    from providers import twilio

    [taken] = [
        twilio.send(
            sender=conversation.sender,
            to=conversation.customer_phone,
            content=OutboundContent.text("Your order is ready"),
        )
    ]
    # Another died before its request left: Twilio has nothing for it.
    other = ConversationFactory(sender=conversation.sender, last_inbound_at=timezone.now())
    died_before_sending = _stranded(other, status="sending", age=timedelta(minutes=10), attempts=1)
    claimed_now = _stranded(conversation, status="sending", age=timedelta(seconds=5), attempts=1)

    assert resend_stranded_messages.apply().result == 2

    died_after_sending.refresh_from_db()
    died_before_sending.refresh_from_db()
    assert (died_after_sending.status, died_after_sending.provider_message_id) == ("sent", taken.provider_message_id)
    assert died_before_sending.status == "sent"
    assert Message.objects.get(pk=claimed_now.pk).status == "sending"  # its lease still runs
    assert sorted(s["to"] for s in fake_twilio.sent) == sorted(
        [f"whatsapp:{conversation.customer_phone}", f"whatsapp:{other.customer_phone}"]
    )
