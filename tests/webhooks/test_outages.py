"""Webhooks while a backing service is down.

Redis down: the verified webhook is stored, answered 200, the enqueue failure logged, and the replay sweep
processes it once Redis is back. PostgreSQL unreachable (the app pointed at a closed port, the shared server
untouched) and no spool (tests/webhooks/test_spool.py has the default, spooled in Redis): nothing can be
stored, so the answer is 503 + Retry-After and the provider's retry, once the database is back, delivers the
message once however often it is repeated.
"""

from __future__ import annotations

import logging
import socket
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import Message
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import SenderFactory
from tests.webhooks.test_meta import _payload, _post, _text, graph, meta_sender  # noqa: F401 - fixtures
from webhooks.models import WebhookEvent
from webhooks.tasks import replay_stale_events

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@contextmanager
def database_unreachable():
    """Point the app's connection at a port nobody listens on (connection refused), then back."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def test_postgres_unreachable_is_503_with_retry_after_and_the_retry_delivers_once(
    client, fake_twilio, caplog, settings
):
    settings.WEBHOOK_SPOOL_MAX_ENTRIES = 0  # no spool (turned off, or full): see test_spool.py for the default
    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", body="hello")

    with database_unreachable(), caplog.at_level(logging.ERROR):
        refused = [signed_post(client, sender=sender, params=params) for _ in range(3)]
    assert {r.status_code for r in refused} == {503}
    assert refused[0]["Retry-After"] == "10"
    assert refused[0].json()["error"]["code"] == "database_unavailable"
    assert any(r.getMessage() == "webhook refused: database unavailable" for r in caplog.records)

    # Twilio retries (the URL's #rp= override); the first retry after recovery is stored and answered once.
    retried = [signed_post(client, sender=sender, params=params) for _ in range(3)]
    assert [r.status_code for r in retried] == [200, 200, 200]
    assert Message.objects.filter(direction="in").count() == 1
    assert Message.objects.filter(direction="out").count() == 1 and len(fake_twilio.sent) == 1


def test_meta_retries_after_a_database_outage_deliver_each_message_once(client, graph, meta_sender, settings):  # noqa: F811
    settings.WEBHOOK_SPOOL_MAX_ENTRIES = 0  # no spool: the provider's retries are what delivers
    messages = [_text(f"message {n}", wa_id=f"96650800{n:04d}") for n in range(5)]
    payload = _payload(meta_sender, messages=messages)

    with database_unreachable():
        assert _post(client, payload).status_code == 503
        assert _post(client, payload).status_code == 503
    # Meta keeps re-sending the same POST with backoff; duplicates of a delivered one are harmless.
    answers = [_post(client, payload).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    inbound = Message.objects.filter(direction="in")
    assert sorted(inbound.values_list("provider_message_id", flat=True)) == sorted(m["id"] for m in messages)
    assert Message.objects.filter(direction="out").values("conversation").distinct().count() == 5
    assert len(graph.sent) == Message.objects.filter(direction="out").count()


def _broker_pools_reset(app) -> None:
    """Make the next publish connect to app.conf.broker_url afresh (Celery caches its pools)."""
    app._pool = None
    app.amqp._producer_pool = None


def test_redis_down_the_webhook_is_still_200_and_the_sweep_processes_it_once(client, fake_twilio, settings, caplog):
    from sufrahbot.celery import app

    sender = SenderFactory()
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", body="hello")
    # The broker unreachable: a closed port (the real publish path, not eager).
    app.conf.task_always_eager = False
    broker_before = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    _broker_pools_reset(app)
    try:
        with caplog.at_level(logging.ERROR, logger="sufrahbot.enqueue"):
            responses = [
                signed_post(client, sender=sender, params=params | {"MessageSid": f"SM{n:032x}"}) for n in range(5)
            ]
    finally:
        app.conf.broker_url = broker_before
        _broker_pools_reset(app)
        app.conf.task_always_eager = True
    assert [r.status_code for r in responses] == [200] * 5
    failures = [r for r in caplog.records if r.getMessage() == "enqueue failed; the sweep will pick it up"]
    assert len(failures) == 5
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"received"}
    assert Message.objects.count() == 0

    # Redis is back: the replay sweep takes the events that never finished (older than its minute).
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    assert replay_stale_events.apply().result == 5
    assert replay_stale_events.apply().result == 0
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Message.objects.filter(direction="in").count() == 5
    assert Message.objects.filter(direction="out").count() == 5 == len(fake_twilio.sent)
