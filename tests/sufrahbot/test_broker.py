"""sufrahbot.broker: Celery's Redis channel keeps one redis-py client instead of building one per command."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings
from kombu import Connection

from sufrahbot import broker


def _clients_built_for(transport: str | None, monkeypatch, messages: int = 10) -> int:
    """redis.Redis clients built while `messages` are published, received and acked on a real queue."""
    built = []
    real_init = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    name = f"sufrah-test-broker-{uuid.uuid4().hex}"
    with Connection(settings.REDIS_URL, transport=transport) as connection:
        queue = connection.SimpleQueue(name)
        queue.put({"n": 0})
        queue.get(timeout=5).ack()  # connected, channel open: count from here
        monkeypatch.setattr(redis.Redis, "__init__", counting)
        for n in range(messages):
            queue.put({"n": n})
        received = []
        for _ in range(messages):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
        monkeypatch.undo()
        queue.clear()
        queue.close()
    assert received == list(range(messages))
    return len(built)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")
def test_publishes_receives_and_acks_share_the_channels_client(monkeypatch):
    stock = _clients_built_for(None, monkeypatch)
    ours = _clients_built_for("sufrahbot.broker:Transport", monkeypatch)
    print(f"clients built for 10 messages: kombu {stock}, sufrahbot.broker {ours}")
    assert stock >= 20  # kombu's own: a client per publish and per ack at least
    assert ours == 0  # the channel's one client was built before counting began


def test_the_production_settings_select_it_for_redis_urls():
    if settings.REDIS_URL.startswith("redis://"):
        assert settings.CELERY_BROKER_TRANSPORT == "sufrahbot.broker:Transport"
    assert broker.Transport.Channel is broker.Channel
