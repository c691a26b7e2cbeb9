"""sufrahbot.events.DirectPublisher: on channels_redis's pub/sub layer a group message is PUBLISHed from the
calling thread, as the layer's own group_send would publish it (same channel, same message once the layer
reads it back), and a listener on the layer gets it. Real Redis."""

from __future__ import annotations

import time

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from sufrahbot import events
from sufrahbot.events import DirectPublisher, publish, restaurant_group

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis"),
]


@pytest.fixture(autouse=True)
def _no_sinks(settings):
    settings.SUFRAH_EVENT_SINKS = []


def _raw_messages(pubsub, count: int, timeout: float = 5.0) -> list[dict]:
    received, deadline = [], time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message:
            received.append(message)
    return received


def test_a_direct_publish_is_what_the_layers_group_send_publishes():
    layer = get_channel_layer()
    assert DirectPublisher.serves(layer)
    group = restaurant_group(424242)
    channel = f"{settings.CHANNELS_PREFIX}__group__{group}"
    message = {"type": "event.push", "event": {"type": "conversation.updated", "name": "مطعم", "n": 1}}
    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    try:
        async_to_sync(layer.group_send)(group, message)
        DirectPublisher.send(layer, [(group, message)])
        theirs, ours = _raw_messages(pubsub, 2)
    finally:
        pubsub.close()
        client.close()
    assert theirs["channel"] == ours["channel"] == channel.encode()
    assert layer.deserialize(ours["data"]) == layer.deserialize(theirs["data"]) == message
    assert len(ours["data"]) == len(theirs["data"])  # the same serializer (its random prefix aside)


def test_publish_reaches_a_listener_without_the_sender_loop(listen_groups, monkeypatch):
    def no_loop(*args, **kwargs):
        raise AssertionError("the pub/sub layer's sends do not go through the sender loop")

    monkeypatch.setattr(events._SenderLoop, "send", no_loop)
    listener = listen_groups(restaurant_group(7))
    publish(7, {"type": "conversation.updated", "conversation": {"id": 1, "customer_name": "Noura نورة"}})
    [event] = listener.events()
    assert event["conversation"]["customer_name"] == "Noura نورة" and event["restaurant_id"] == 7


def test_a_layer_configured_by_host_and_port_keeps_the_sender_loop():
    by_url = RedisPubSubChannelLayer(hosts=[settings.REDIS_URL], prefix="x")
    by_host = RedisPubSubChannelLayer(hosts=[("127.0.0.1", 6379)], prefix="x")
    assert DirectPublisher.serves(by_url)
    assert not DirectPublisher.serves(by_host)
