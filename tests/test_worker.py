"""A real Celery worker (not eager) consuming the project's queues from Redis.

The worker runs in a thread of the test process (celery.contrib.testing.worker), but every task goes
through the broker: the webhook view enqueues process_event on `inbound`, the bot's reply is enqueued as
send_message on `outbound`, and the worker picks both up from Redis.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings

from conversations.models import Message
from sufrahbot.celery import app
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory, StaffMembershipFactory
from tests.realtime.wsclient import DASHBOARD_ORIGIN, access_token, events_socket, subscribed
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_QUEUES = [name for name in django_settings.CELERY_WORKER_QUEUES.split(",") if name]


def test_the_worker_queues_cover_every_routed_queue():
    routed = {route["queue"] for route in django_settings.CELERY_TASK_ROUTES.values()}
    assert routed | {django_settings.CELERY_TASK_DEFAULT_QUEUE} <= set(WORKER_QUEUES)


@contextmanager
def real_worker(settings):
    """Start a worker on the project app with eager mode off; stop it and restore eager mode after."""
    eager_before = app.conf.task_always_eager  # read first: the app loads its conf from settings lazily
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    ran: list[tuple[str, str, bool]] = []

    def record(task=None, **kwargs):
        request = task.request
        ran.append((task.name, (request.delivery_info or {}).get("routing_key", ""), bool(request.is_eager)))

    signals.task_prerun.connect(record, weak=False)
    try:
        with app.connection_for_write() as connection:  # leftovers of an earlier, interrupted run
            for queue in WORKER_QUEUES:
                connection.default_channel.queue_purge(queue)
        with start_worker(
            app, pool="solo", perform_ping_check=False, queues=WORKER_QUEUES, shutdown_timeout=30
        ) as worker:
            worker.ran = ran
            yield worker
    finally:
        signals.task_prerun.disconnect(record)
        app.conf.task_always_eager = eager_before


def _wait_for(predicate, *, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout}s: {predicate.__doc__}")


def test_webhook_is_processed_and_answered_by_a_real_worker_through_redis(client, fake_twilio, settings):
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", body="hello")

    with real_worker(settings) as worker:
        response = signed_post(client, sender=sender, params=params)
        assert response.status_code == 200

        def reply_sent():
            """the bot's reply is sent"""
            return Message.objects.filter(direction="out", status="sent").first()

        reply = _wait_for(reply_sent)

    assert WebhookEvent.objects.get().status == "processed"
    inbound = Message.objects.get(direction="in")
    assert inbound.body == "hello" and inbound.provider_message_id == params["MessageSid"]
    assert reply.conversation_id == inbound.conversation_id and reply.provider_message_id.startswith("SM")
    # One reply, to the customer from the restaurant's number, greeting with the restaurant's welcome.
    [sent] = fake_twilio.sent
    assert (sent["to"], sent["from"]) == ("whatsapp:+966508034010", f"whatsapp:{sender.phone_number}")
    assert sender.restaurant.welcome_text_en in sent["body"]
    # Both steps ran on the worker from their own queues, not inline.
    assert worker.ran == [
        ("webhooks.tasks.process_events", "inbound", False),
        ("conversations.tasks.send_message", "outbound", False),
    ]


def test_events_published_by_the_worker_reach_the_dashboard_socket(client, fake_twilio, settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = [DASHBOARD_ORIGIN]
    sender = SenderFactory()
    member = StaffMembershipFactory(restaurant=sender.restaurant).user
    params = twilio_inbound_params(sender=sender, from_number="+966508034010")

    async def scenario():
        async with subscribed(events_socket(token=access_token(member))) as (socket, _):
            await sync_to_async(signed_post)(client, sender=sender, params=params)
            frames = []
            while not any(frame["type"] == "message.sent" for frame in frames):
                frames.append(await socket.receive_json_from(timeout=15))
            return frames

    with real_worker(settings) as worker:
        frames = async_to_sync(scenario)()

    assert [name for name, _, _ in worker.ran] == ["webhooks.tasks.process_events", "conversations.tasks.send_message"]
    types = [frame["type"] for frame in frames]
    assert types[0] == "message.received" and "conversation.updated" in types and types[-1] == "message.sent"
    assert frames[0]["message"]["id"] == Message.objects.get(direction="in").pk
    assert {frame["restaurant_id"] for frame in frames} == {sender.restaurant_id}
    assert frames[-1]["message"]["id"] == Message.objects.get(direction="out").pk
