import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sufrahbot.heartbeat import worker_beat, worker_gone
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_workers(settings):
    """Heartbeats for every pool, as the running workers write them (under a prefix of this test's own)."""
    settings.CHANNELS_PREFIX = f"health-test-{time.monotonic_ns()}"
    names = []
    for pool, queues in settings.CELERY_WORKER_POOLS.items():
        names.append(f"{pool}@test")
        worker_beat(hostname=names[-1], queues=queues.split(","))
    yield names
    for name in names:
        worker_gone(hostname=name)


def test_health_is_200_with_every_check_when_all_is_up(client, live_workers):
    response = client.get("/health/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["down"] == []
    checks = body["checks"]
    assert checks["database"] == "ok" and checks["redis"] == "ok" and checks["broker"] == "ok"
    assert sorted(checks["workers"]["alive"]) == sorted(live_workers)
    assert checks["workers"]["queues_without_worker"] == []
    assert set(checks["queue_depths"]) == {"inbound", "default", "scheduled", "outbound", "webhooks_out"}
    assert checks["webhook_backlog"]["oldest_unprocessed_seconds"] == 0
    assert checks["senders_failing_credentials"] == []
    assert body["uptime_seconds"] >= 0 and body["version"]
    assert client.get("/healthz").json()["checks"]["database"] == "ok"  # the old name still answers


def test_health_is_503_naming_redis_and_logs_why(client, settings, live_workers, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with caplog.at_level(logging.ERROR, logger="sufrahbot.health"):
        response = client.get("/health/")
    assert response.status_code == 503
    assert "redis" in response.json()["down"] and response.json()["checks"]["redis"] == "unreachable"
    assert any(r.message == "health check failed" and r.exc_info for r in caplog.records)


def test_health_is_503_when_a_queue_has_no_live_worker(client, settings):
    settings.CHANNELS_PREFIX = f"health-test-{time.monotonic_ns()}"
    worker_beat(hostname="inbound@test", queues=settings.CELERY_WORKER_POOLS["inbound"].split(","))
    try:
        response = client.get("/health/")
    finally:
        worker_gone(hostname="inbound@test")
    assert response.status_code == 503
    assert response.json()["down"] == ["workers"]
    assert response.json()["checks"]["workers"]["queues_without_worker"] == ["outbound", "webhooks_out"]


def test_health_is_503_when_a_verified_webhook_waits_too_long(client, live_workers, settings):
    event = WebhookEvent.objects.create(provider="twilio", kind="message", url="u", signature_valid=True)
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(seconds=400))
    settings.HEALTH_MAX_WEBHOOK_AGE_SECONDS = 300
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["down"] == ["webhook_backlog"]
    assert response.json()["checks"]["webhook_backlog"]["oldest_unprocessed_seconds"] >= 400


def test_health_names_senders_whose_credentials_are_refused_without_failing(client, live_workers):
    from conversations.models import Message, MessageStatus
    from tests.factories import ConversationFactory

    conversation = ConversationFactory()
    Message.objects.create(
        restaurant=conversation.restaurant,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        provider="twilio",
        status=MessageStatus.FAILED,
        error_code="20003",
    )
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"]["senders_failing_credentials"] == [
        {
            "sender_id": conversation.sender_id,
            "restaurant_id": conversation.restaurant_id,
            "provider": "twilio",
            "error_code": "20003",
        }
    ]
