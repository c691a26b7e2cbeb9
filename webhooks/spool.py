"""While PostgreSQL is down, a webhook waits in a Redis stream instead of being refused.

Nothing can be stored or verified without the database, so the raw request (its body, and the headers its
verification needs, encrypted with the field-encryption key since one of them is a secret) is appended to the
stream `<CHANNELS_PREFIX>:webhook-spool` and the provider gets its usual acknowledgement. Twilio retries a
failed webhook for about 15 s at most; an outage longer than that would otherwise lose the customer's message.

The import sweep (Celery beat, every few seconds) stores each spooled request as if it had just arrived: the
same WebhookEvent row, the same routing, signature check and processing (a forged request spooled during the
outage is rejected then, as it would have been). An entry leaves the stream only after its row is committed; a
crash between the two imports it twice, and processing is idempotent per provider message id.

Refused (so the view answers 503 and the provider retries) when Redis is down too, when there is no Redis
(embedded mode), when the body is larger than a stored body may be, or when the stream holds
WEBHOOK_SPOOL_MAX_ENTRIES entries. Production Redis should persist (appendonly yes) for the spool to outlive a
Redis restart; docker-compose's does.
"""

from __future__ import annotations

import json
import logging
import time

import redis
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from sufrahbot import crypto
from sufrahbot.heartbeat import redis_client

from . import services

logger = logging.getLogger(__name__)


def spool_stream() -> str:
    return f"{settings.CHANNELS_PREFIX}:webhook-spool"


def webhook_spool(*, provider: str, kind: str, request: HttpRequest, body: bytes) -> bool:
    """Keep a request the database could not take; True when it is safely in the stream."""
    if not settings.REDIS_URL or settings.WEBHOOK_SPOOL_MAX_ENTRIES <= 0 or len(body) > services.MAX_STORED_BODY:
        return False
    entry = {
        "provider": provider,
        "kind": kind,
        "url": services.request_url(request),
        "method": request.method or "",
        "content_type": request.content_type or "",
        "headers": crypto.encrypt(json.dumps(services.request_headers(request))),
        "body": body,
        "spooled_at": repr(time.time()),
    }
    client = redis_client(settings.REDIS_URL)
    try:
        if client.xlen(spool_stream()) >= settings.WEBHOOK_SPOOL_MAX_ENTRIES:
            logger.error("webhook spool full; refusing", extra={"provider": provider})
            return False
        client.xadd(spool_stream(), entry)
    except redis.RedisError as exc:
        logger.error("webhook spool unavailable", extra={"provider": provider, "error": str(exc)[:300]})
        return False
    return True


def webhook_spool_import(*, limit: int = 200) -> int:
    """Store (then route, verify and queue) what was spooled, oldest first; returns how many were imported."""
    if not settings.REDIS_URL:
        return 0
    client = redis_client(settings.REDIS_URL)
    imported = 0
    for entry_id, raw in client.xrange(spool_stream(), count=limit):
        fields = {key.decode(): value for key, value in raw.items()}
        headers = json.loads(crypto.decrypt(fields["headers"].decode()))
        body = bytes(fields["body"])
        with transaction.atomic():
            event, verdict = services.webhook_receive(
                provider=fields["provider"].decode(),
                kind=fields["kind"].decode(),
                url=fields["url"].decode(),
                method=fields["method"].decode(),
                content_type=fields["content_type"].decode(),
                headers=headers,
                body=body,
            )
        client.xdel(spool_stream(), entry_id)
        imported += 1
        waited = time.time() - float(fields["spooled_at"].decode())
        logger.warning(
            "spooled webhook imported",
            extra={"event_id": event.pk, "verdict": verdict.code or "accepted", "waited_seconds": round(waited, 1)},
        )
    return imported


@shared_task
def import_spooled_webhooks() -> int:
    """The import sweep (Celery beat; listed in CELERY_IMPORTS so every worker knows it)."""
    return webhook_spool_import()


def webhook_spool_depth() -> int | None:
    """How many requests wait in the spool (for /health/); None when Redis cannot say (its own check fails)."""
    if not settings.REDIS_URL:
        return 0
    try:
        return int(redis_client(settings.REDIS_URL).xlen(spool_stream()))
    except redis.RedisError:
        return None
