"""The realtime events across a Redis restart: a dashboard's subscription comes back by itself, and the first
event published after Redis is back reaches it (the publisher's pooled connection died with the old server;
sufrahbot.events sends on a fresh one). A private redis-server, restarted for real."""

from __future__ import annotations

import time

import pytest
import redis

from sufrahbot.events import events_in, publish, restaurant_group

from .conftest import PrivateRedis, free_port, requires_redis_server

pytestmark = [requires_redis_server, pytest.mark.django_db(transaction=True)]


def _event(marker: str) -> dict:
    return {"type": "conversation.updated", "conversation": {"id": 0, "customer_name": marker}}


def _subscribed(client: redis.Redis, group: str, timeout: float = 15) -> None:
    """Wait until some connection is subscribed to the group's pub/sub channel again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(group in name.decode() for name in client.pubsub_channels()):
            return
        time.sleep(0.1)
    raise AssertionError(f"nobody subscribed to {group} within {timeout} s")


def _markers(listener) -> list[str]:
    return [e["conversation"]["customer_name"] for m in listener.drain() for e in events_in(m)]


def test_the_first_event_after_a_redis_restart_reaches_a_dashboard(tmp_path, settings, listen_groups):
    private = PrivateRedis(free_port(), tmp_path).start()
    settings.SUFRAH_EVENT_SINKS = []
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [private.url], "prefix": "fault"},
        }
    }
    client = redis.Redis.from_url(private.url)
    group = restaurant_group(1)
    try:
        listener = listen_groups(group)
        publish(1, _event("before"))  # outside a transaction: sent at once, on the publisher's connection
        assert _markers(listener) == ["before"]

        private.stop()
        private.start()  # same port, a new server: every connection to the old one is dead
        _subscribed(client, group)  # the dashboard's side reconnects and subscribes again by itself

        publish(1, _event("after"))
        # The listener's receive task may still be in its one-second pause after the error it saw.
        after = listener.next_message(timeout=10)
        assert [e["conversation"]["customer_name"] for e in events_in(after)] == ["after"]
    finally:
        client.close()
        private.stop()
