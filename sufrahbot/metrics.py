"""Prometheus metrics: django-prometheus's, plus the bot's own, served at /metrics behind a bearer token.

Web processes and Celery workers all count; with PROMETHEUS_MULTIPROC_DIR set (`./dev run` and
docker-compose set it) every process writes its samples there and /metrics adds them up, so a worker's
send latency shows on the web's endpoint. Queue depths are read from the broker at scrape time.
"""

from __future__ import annotations

import hmac
import logging
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from sufrahbot.errors import error_response
from sufrahbot.heartbeat import queue_depths

logger = logging.getLogger(__name__)

WEBHOOKS = Counter(
    "sufrah_webhooks_total", "Provider webhook requests by provider, kind and verdict.", ["provider", "kind", "verdict"]
)
MESSAGES = Counter(
    "sufrah_messages_total", "Messages by direction (in/out) and status reached.", ["direction", "status"]
)
BOT_REPLY_SECONDS = Histogram(
    "sufrah_bot_reply_seconds",
    "From an inbound message stored to the bot's replies queued.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SEND_SECONDS = Histogram(
    "sufrah_send_seconds",
    "One provider send call.",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SEND_RETRIES = Counter("sufrah_send_retries_total", "Sends rescheduled after a retryable failure.", ["provider"])
DEAD_LETTERS = Counter(
    "sufrah_dead_letters_total", "Work given up on: messages failed for good, webhooks out of attempts.", ["kind"]
)
RATE_LIMIT_HITS = Counter("sufrah_rate_limit_hits_total", "Sends held back by a sender's rate limit.")
# Filled by the campaign sender: messages of a campaign by state (queued/sent/failed/...).
CAMPAIGN_PROGRESS = Gauge(
    "sufrah_campaign_progress",
    "Messages of a campaign by state.",
    ["campaign", "state"],
    multiprocess_mode="livemax",
)


class QueueDepthCollector:
    """Reads the broker's queue lengths when scraped (a gauge nobody has to keep up to date)."""

    def collect(self):
        family = GaugeMetricFamily("sufrah_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"])
        if settings.TASKS_IN_PROCESS:
            yield family
            return
        try:
            for queue, depth in queue_depths().items():
                family.add_metric([queue], depth)
        except Exception:  # a broker hiccup costs the gauge, not the scrape
            logger.warning("queue depth not read", exc_info=True)
        yield family


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Delegate(REGISTRY))
    registry.register(QueueDepthCollector())
    return registry


class _Delegate:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if not token:
        return error_response(403, "metrics_disabled", "Set METRICS_TOKEN to serve /metrics.")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = error_response(401, "unauthorized", "Send Authorization: Bearer <METRICS_TOKEN>.")
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
