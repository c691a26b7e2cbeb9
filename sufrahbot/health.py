"""GET /health/ (and /healthz): can this deployment do its work?

200 when every check passes, 503 naming what is down. Checked: the database, Redis, the Celery broker,
a live worker (by its heartbeat, sufrahbot.heartbeat) for every queue, and the oldest verified webhook
still waiting to be processed. Reported without failing the check: queue depths, senders whose provider
credentials were refused lately (one tenant's bad token must not take the instance out of a load
balancer), uptime and version. A failing check logs its exception.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from conversations.models import Message, MessageStatus
from providers.content import CREDENTIALS_REFUSED_CODES
from sufrahbot.heartbeat import queue_depths, redis_client, workers_alive
from webhooks.models import WebhookEvent
from webhooks.spool import webhook_spool_depth

logger = logging.getLogger(__name__)
STARTED_AT = time.time()
AUTH_ERROR_CODES = tuple(sorted(CREDENTIALS_REFUSED_CODES))
FAILING_CREDENTIALS_WINDOW = timedelta(hours=1)


def _check(name: str, down: list[str], fn):
    """Run one check; an exception marks it down (and is logged), the value is what the check reports."""
    try:
        return fn()
    except Exception:  # any failure means "down", named in the answer
        logger.exception("health check failed", extra={"check": name})
        down.append(name)
        return "unreachable"


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _ping(url: str) -> str:
    redis_client(url).ping()
    return "ok"


def _webhook_backlog() -> dict:
    oldest = WebhookEvent.objects.filter(
        status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED], signature_valid=True
    ).aggregate(oldest=Min("received_at"))["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {
        "oldest_unprocessed_seconds": round(age, 1),
        "max_seconds": settings.HEALTH_MAX_WEBHOOK_AGE_SECONDS,
        "spooled": webhook_spool_depth(),  # kept in Redis while the database was down, not yet imported
    }


def _failing_senders() -> list[dict]:
    rows = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            status=MessageStatus.FAILED,
            error_code__in=AUTH_ERROR_CODES,
            updated_at__gte=timezone.now() - FAILING_CREDENTIALS_WINDOW,
        )
        .values("conversation__sender_id", "restaurant_id", "provider", "error_code")
        .distinct()[:50]
    )
    return [
        {
            "sender_id": r["conversation__sender_id"],
            "restaurant_id": r["restaurant_id"],
            "provider": r["provider"],
            "error_code": r["error_code"],
        }
        for r in rows
    ]


def health_report() -> tuple[bool, dict]:
    down: list[str] = []
    checks: dict[str, object] = {"database": _check("database", down, _database)}
    if settings.TASKS_IN_PROCESS:
        checks["redis"] = "not used (embedded)"
        checks["broker"] = "not used (tasks run in-process)"
        checks["workers"] = "in-process"
    else:
        checks["redis"] = _check("redis", down, lambda: _ping(settings.REDIS_URL))
        checks["broker"] = _check("broker", down, lambda: _ping(settings.CELERY_BROKER_URL))
        workers = _check("workers", down, workers_alive)
        if isinstance(workers, list):
            covered = {queue for worker in workers for queue in worker["queues"]}
            missing = [q for q in settings.CELERY_WORKER_QUEUES.split(",") if q not in covered]
            checks["workers"] = {
                "alive": sorted(w["hostname"] for w in workers),
                "queues_without_worker": missing,
            }
            if missing:
                down.append("workers")
        else:
            checks["workers"] = workers
        checks["queue_depths"] = _check("queue_depths", down, queue_depths)
    backlog = _check("webhook_backlog", down, _webhook_backlog)
    if isinstance(backlog, dict) and backlog["oldest_unprocessed_seconds"] > backlog["max_seconds"]:
        down.append("webhook_backlog")
    checks["webhook_backlog"] = backlog
    checks["senders_failing_credentials"] = _check("senders_failing_credentials", [], _failing_senders)
    healthy = not down
    body = {
        "status": "ok" if healthy else "degraded",
        "down": down,
        "checks": checks,
        "uptime_seconds": round(time.time() - STARTED_AT, 1),
        "version": settings.VERSION,
    }
    return healthy, body


def health(request: HttpRequest) -> JsonResponse:
    healthy, body = health_report()
    return JsonResponse(body, status=200 if healthy else 503)
