"""Bot paths that misled customers: a rating prompt answered in a handed-off conversation, pickup wording."""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest

from conversations.management.commands.simulate import Command, _Chat
from conversations.models import Message
from conversations.services.inbound import conversation_open
from conversations.services.outbound import message_send
from orders.models import OrderStatus, Rating
from orders.services import order_transition, rating_prompts_send_due
from providers.content import OutboundContent
from sufrahbot import texts
from tests.conversations.factories import TwilioCustomer
from tests.factories import ConsoleSenderFactory
from tests.orders.factories import placed_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rating_prompt_can_be_answered_while_the_conversation_is_with_staff(client, fake_twilio):
    customer = TwilioCustomer(client)
    customer.says("hello")
    order = placed_order(conversation=customer.conversation)
    for status in (OrderStatus.PREPARING, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED):
        order = order_transition(order=order, to_status=status)
    customer.says("help")  # handed to staff before the prompt goes out
    assert customer.conversation.bot_paused is True
    assert rating_prompts_send_due() == 1
    customer.new_replies()

    [stars] = customer.taps(f"rate:now:{order.pk}", "Rate now")
    customer.taps(f"rate:stars:{order.pk}:4", "⭐⭐⭐⭐")

    assert stars.kind == "list"
    assert Rating.objects.get(order=order).stars == 4
    assert customer.conversation.bot_paused is True  # still with staff
    assert customer.says("where is my driver?") == []  # free text stays with staff


@pytest.mark.parametrize("language", ["ar", "en"])
def test_a_pickup_order_is_asked_about_as_collected_not_delivered(language):
    pickup = texts.rating_prompt_text(
        language=language, number=1001, restaurant_name="R", reminder=False, fulfilment="pickup"
    )
    delivery = texts.rating_prompt_text(
        language=language, number=1001, restaurant_name="R", reminder=False, fulfilment="delivery"
    )

    assert "توصيل" not in pickup and "delivered" not in pickup
    assert ("استلام" in pickup) if language == "ar" else ("collected" in pickup)
    assert ("توصيل" in delivery) if language == "ar" else ("delivered" in delivery)


def test_a_flood_from_one_customer_is_stored_and_answered_once_with_a_slow_down_note(client, fake_twilio, settings):
    settings.BOT_CUSTOMER_MESSAGES_PER_MINUTE = 5
    customer = TwilioCustomer(client)
    other = TwilioCustomer(client, restaurant=customer.sender.restaurant, phone="+966509998877")

    started = time.monotonic()
    replies = [customer.says(f"spam {n}") for n in range(30)]
    elapsed = time.monotonic() - started

    # A burst of 5, then one more a 12 s refill (a loaded machine takes longer over the 30 lines).
    allowed = 5 + int(elapsed * 5 / 60) + 1
    everything = [m for r in replies for m in r]
    notes = [m for m in everything if "a lot of messages" in m.body]
    answered = [r for r in replies if r and not any("a lot of messages" in m.body for m in r)]
    assert all(replies[:5]) and len(answered) <= allowed < 30
    assert 1 <= len(notes) <= 1 + int(elapsed // 60)
    stored = Message.objects.filter(conversation=customer.conversation, direction="in").count()
    assert stored == 30  # nothing the customer sent is lost
    assert other.says("hi")  # another customer is not slowed down


def test_the_simulator_prints_messages_as_they_arrive_without_waiting_for_a_typed_line(fake_twilio):
    sender = ConsoleSenderFactory()
    out = StringIO()
    command = Command(stdout=out)
    command.chat = _Chat(sender=sender, phone="+966500000123", name="Sim", wait=1)
    conversation = conversation_open(sender=sender, customer_phone="+966500000123", customer_name="Sim")
    conversation.last_inbound_at = conversation.created_at
    conversation.save(update_fields=["last_inbound_at"])
    stop = threading.Event()
    follower = command.follow_start(stop, interval=0.1)

    message_send(conversation=conversation, content=OutboundContent.text("Your order #1001 is being prepared"))
    deadline = time.monotonic() + 10
    while "Your order #1001 is being prepared" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    follower.join(5)

    assert "bot> Your order #1001 is being prepared" in out.getvalue()
    assert out.getvalue().count("being prepared") == 1
