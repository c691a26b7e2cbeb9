from __future__ import annotations

import pytest
import redis
from celery import _state as celery_state
from django.conf import settings

from integrations.registry import SENTINEL, registry_key
from providers import twilio as twilio_provider
from restaurants.routing import sender_routes_forget
from tests.fakes.twilio_api import FakeTwilio
from tests.realtime.groups import GroupListener

PUBLIC_BASE_URL = "https://bot.sufrah.test"


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.ALLOWED_HOSTS = ["*"]


@pytest.fixture(autouse=True)
def _celery_join_flag_cleared():
    """Celery's eager `apply()` sets a process-global "inside a task" flag and restores the value it saw,
    without a lock: eager tasks in several threads at once (the concurrency tests) can leave it stuck on,
    and every later `result.get()` then raises "Never call result.get() within a task!"."""
    celery_state._set_task_join_will_block(False)
    yield
    celery_state._set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    client = redis.Redis.from_url(settings.REDIS_URL)
    # Rate limits and login-throttle counts of earlier tests (every test client logs in from 127.0.0.1).
    keys = list(client.scan_iter("sufrah:ratelimit:*")) + list(client.scan_iter("*sufrah:login-throttle:*"))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture(autouse=True)
def _fresh_webhook_registry():
    """Restaurants with webhook subscriptions (integrations.registry): empty, like the fresh database."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(registry_key())
    client.sadd(registry_key(), SENTINEL)
    yield


@pytest.fixture(autouse=True)
def _fresh_sender_routes():
    """The webhook routing cache (restaurants.routing) is per process: no test sees an earlier one's senders."""
    sender_routes_forget()
    yield
    sender_routes_forget()


@pytest.fixture
def listen_groups():
    """listen_groups(*groups) -> a GroupListener joined to them (tests/realtime/groups.py), closed after."""
    listeners: list[GroupListener] = []

    def listen(*groups: str) -> GroupListener:
        listeners.append(GroupListener(*groups))
        return listeners[-1]

    yield listen
    for listener in listeners:
        listener.close()


@pytest.fixture
def fake_twilio(settings):
    server = FakeTwilio().start()
    settings.TWILIO_API_BASE_URL = server.base_url
    settings.TWILIO_CONTENT_BASE_URL = server.base_url
    yield server
    server.stop()


def twilio_inbound_params(*, sender, from_number: str, body: str = "hi", sid: str | None = None, **extra) -> dict:
    return twilio_provider.inbound_text_params(
        account_sid=sender.credentials.get("account_sid", "AC" + "0" * 32),
        to_number=sender.phone_number,
        from_number=from_number,
        body=body,
        profile_name="Layla",
        sid=sid,
        **extra,
    )


def signed_post(
    client, *, sender, params: dict, path: str = twilio_provider.WEBHOOK_PATH, token: str | None = None, **headers
):
    """POST form params to a webhook, signed exactly as Twilio signs them (real RequestValidator)."""
    webhook = twilio_provider.webhook_forge(
        auth_token=token or sender.credentials["auth_token"], public_base_url=PUBLIC_BASE_URL, params=params, path=path
    )
    return client.post(webhook.path, **webhook.test_client_kwargs(), **headers)
