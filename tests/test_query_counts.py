"""SQL round trips on the hot paths (bench/ingest.py prints the webhook request's): the webhook request,
storing an inbound message with the bot's answer and its queued reply, and sending that reply. Real
transactions, counted whole (BEGIN, COMMIT and savepoints are round trips too), tasks queued rather than run
inline. The restaurant has a menu (categories with items) and the returning customer an order, so the
bot's context is read in full. Each count is exact: a query added or removed fails here."""

from __future__ import annotations

import pytest
import redis.connection

from conversations.models import Conversation, Message
from conversations.services.delivery import message_deliver
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import ConsoleSenderFactory, MenuCategoryFactory, MenuItemFactory
from tests.orders.factories import placed_order
from webhooks.models import WebhookEvent
from webhooks.processing import webhook_event_process

pytestmark = pytest.mark.django_db(transaction=True)

# The webhook request (the target is at most 4): the one INSERT of the request with its verdict, once the
# sender's route is cached (restaurants.routing); the first request of a process reads the sender first.
WEBHOOK_REQUEST = 1
WEBHOOK_REQUEST_COLD = 2
SEND = 3  # at most 4
# Storing + answering + queueing the reply (at most 15), for either customer:
#   the event claimed: read with its attempt counted, in one statement (sufrahbot.db.PreparedUpdateSelect);
#   BEGIN, the conversation upserted with its counters, the plan's usage counted (one upsert), the message
#   inserted unless stored, COMMIT;
#   BEGIN, the conversation locked with restaurant, sender, bot session, menu, orders and last reply, the
#   awaiting_bot claim, the session upserted, the replies inserted, the conversation's one UPDATE, COMMIT;
#   the event closed.
STORE_ANSWER_QUEUE = {"new customer": 14, "returning customer": 14}
# Its Redis round trips: the webhook registry asked once for all the step's events (a publishing unit,
# sufrahbot.events), one publish per transaction that published (the reply's transaction publishes only when
# it sets the conversation's language, which a returning customer's does not), the customer's reply rate;
# the reply's task is queued after (not counted here: `queued` catches it).
STORE_ANSWER_QUEUE_REDIS = {
    "new customer": ["SMISMEMBER", "PUBLISH", "EVALSHA", "PUBLISH"],
    "returning customer": ["SMISMEMBER", "PUBLISH", "EVALSHA"],
}


@pytest.fixture
def redis_round_trips(monkeypatch):
    """The first command of each write to Redis from this process (a pipeline is one round trip)."""
    sent: list[str] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def recorded(self, command, *args, **kwargs):
        packed = b"".join(command) if isinstance(command, list | tuple) else command
        sent.append(packed.split(b"\r\n")[2].decode())
        return send(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", recorded)
    return sent


@pytest.fixture
def sender():
    sender = ConsoleSenderFactory()
    for _ in range(2):
        category = MenuCategoryFactory(restaurant=sender.restaurant)
        MenuItemFactory.create_batch(3, category=category)
    return sender


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Tasks are queued (Redis, no SQL) instead of run inline, so each count covers one step."""
    from conversations import tasks as conversation_tasks
    from webhooks import tasks as webhook_tasks

    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(webhook_tasks.process_events, "delay", lambda *a: calls.append(("process_events", a)))
    monkeypatch.setattr(conversation_tasks.send_message, "delay", lambda *a: calls.append(("send_message", a)))
    return calls


def _webhook(client, sender, phone: str, body: str) -> WebhookEvent:
    assert (
        signed_post(
            client, sender=sender, params=twilio_inbound_params(sender=sender, from_number=phone, body=body)
        ).status_code
        == 200
    )
    return WebhookEvent.objects.latest("id")


def test_the_webhook_request(client, sender, queued, django_assert_num_queries):
    cold = twilio_inbound_params(sender=sender, from_number="+966508034099", body="hi")
    with django_assert_num_queries(WEBHOOK_REQUEST_COLD):
        assert signed_post(client, sender=sender, params=cold).status_code == 200
    params = twilio_inbound_params(sender=sender, from_number="+966508034098", body="hi")
    with django_assert_num_queries(WEBHOOK_REQUEST):
        assert signed_post(client, sender=sender, params=params).status_code == 200
    assert [name for name, _ in queued] == ["process_events", "process_events"]


@pytest.mark.parametrize("returning", [False, True], ids=["new customer", "returning customer"])
def test_storing_answering_and_queueing_the_reply(
    client, sender, returning, queued, redis_round_trips, django_assert_num_queries
):
    phone = "+966508034097"
    if returning:  # the customer has a conversation, a bot session and an order already
        webhook_event_process(event_id=_webhook(client, sender, phone, "hi").pk)
        placed_order(conversation=Conversation.objects.get(customer_id=phone), notify_customer=False)
    else:  # the process's connections made, as they are in a running worker
        webhook_event_process(event_id=_webhook(client, sender, "+966508034095", "hi").pk)
    event = _webhook(client, sender, phone, "1")
    queued.clear()
    redis_round_trips.clear()
    case = "returning customer" if returning else "new customer"
    with django_assert_num_queries(STORE_ANSWER_QUEUE[case]):
        assert webhook_event_process(event_id=event.pk) == "processed"
    assert redis_round_trips == STORE_ANSWER_QUEUE_REDIS[case], redis_round_trips
    assert [name for name, _ in queued][-1] == "send_message"  # the reply was queued
    reply = Message.objects.filter(direction="out").latest("id")
    assert reply.conversation.customer_id == phone and reply.status == "queued"
    conversation = reply.conversation
    assert conversation.unread_count == (2 if returning else 1) and conversation.language
    if returning:  # "1" picked "order" on the welcome: the menu read with the conversation, in menu order
        rows = [row["title"] for row in reply.content["sections"][0]["rows"]]
        categories = sender.restaurant.categories.filter(active=True).order_by("sort_order", "id")
        assert rows == [c.name_en for c in categories]


def test_sending_a_reply(client, sender, queued, django_assert_num_queries):
    webhook_event_process(event_id=_webhook(client, sender, "+966508034096", "hi").pk)
    reply = Message.objects.filter(direction="out", status="queued").latest("id")
    with django_assert_num_queries(SEND):
        assert message_deliver(message_id=reply.pk).result == "sent"
