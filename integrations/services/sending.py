"""One attempt at a webhook delivery: claim it, sign it (Standard Webhooks), POST it, record what happened.

2xx: delivered. Network errors, timeouts, 408, 429 (its Retry-After honoured) and 5xx: again later, with
exponential backoff and jitter, WEBHOOK_MAX_ATTEMPTS times in all (about a day), then failed. Any other
answer (3xx, 4xx) or a refused address fails at once. A subscription whose deliveries keep failing for good
is switched off (WEBHOOK_DISABLE_AFTER_FAILURES in a row).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from ..models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookSubscription
from ..outbound import PostOutcome, webhook_post
from ..registry import registry_rebuild

logger = logging.getLogger(__name__)

# A claimed delivery whose worker died is retaken after this long (longer than any one attempt can take).
SENDING_LEASE = timedelta(minutes=2)
# A delivery handed to the queue is left alone by the sweep for this long (its task is on the way).
ENQUEUED_LEASE = timedelta(minutes=5)
USER_AGENT = "Sufrah-Webhooks/1"


def retry_delay(attempts: int) -> float:
    """Seconds before the attempt after `attempts` failed ones: base·2^(n-1), capped, ±20% jitter."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(settings.WEBHOOK_RETRY_MAX_SECONDS, base) * random.uniform(0.8, 1.2)  # jitter, not crypto


def signing_secrets(subscription: WebhookSubscription, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    secrets = [subscription.secret]
    if (
        subscription.previous_secret
        and subscription.previous_secret_expires_at
        and (subscription.previous_secret_expires_at > now)
    ):
        secrets.append(subscription.previous_secret)
    return secrets


def signed_headers(*, msg_id: str, body: str, secrets: list[str], now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one `v1,<signature>` per secret, space-separated."""
    signature = " ".join(Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=body) for secret in secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def _retryable(outcome: PostOutcome) -> bool:
    if outcome.address_refused:
        return False
    if outcome.status_code is None:
        return True  # network error, timeout
    return outcome.status_code in (408, 429) or outcome.status_code >= 500


def delivery_attempt(*, delivery_id: int) -> str:
    """delivered | retry | failed | skipped (not due, taken by another worker, or gone)."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
        )
        .update(status=DeliveryStatus.SENDING, lease_until=now + SENDING_LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, lease_until=None, next_attempt_at=None, last_error="subscription disabled"
        )
        return "failed"
    headers = signed_headers(
        msg_id=delivery.event_id, body=delivery.body, secrets=signing_secrets(subscription, now=now), now=now
    )
    outcome = webhook_post(subscription.url, body=delivery.body.encode(), headers=headers)
    return _attempt_record(delivery, outcome)


def _attempt_record(delivery: WebhookDelivery, outcome: PostOutcome) -> str:
    now = timezone.now()
    delivered = outcome.status_code is not None and 200 <= outcome.status_code < 300
    if delivered:
        result = "delivered"
    elif _retryable(outcome) and delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        result = "retry"
    else:
        result = "failed"
    error = outcome.error or ("" if delivered else f"HTTP {outcome.status_code}")
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=WebhookAttempt.objects.filter(delivery=delivery).count() + 1,
            status_code=outcome.status_code,
            error=error[:500],
            duration_ms=outcome.duration_ms,
            response_body=outcome.body_head,
        )
        changes: dict = {"last_status_code": outcome.status_code, "last_error": error[:500], "lease_until": None}
        if result == "delivered":
            changes.update(status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None)
        elif result == "retry":
            wait = retry_delay(delivery.attempts)
            if outcome.retry_after is not None:
                wait = min(max(outcome.retry_after, 1.0), settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS)
            changes.update(status=DeliveryStatus.PENDING, next_attempt_at=now + timedelta(seconds=wait))
        else:
            changes.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**changes)
        if result == "delivered":
            WebhookSubscription.objects.filter(pk=delivery.subscription_id, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
        elif result == "failed":
            _subscription_failure(delivery.subscription_id, error=error)
    logger.info(
        "webhook attempt",
        extra={
            "delivery_id": delivery.pk,
            "subscription_id": delivery.subscription_id,
            "event_type": delivery.event_type,
            "attempt": delivery.attempts,
            "status_code": outcome.status_code,
            "result": result,
            "duration_ms": outcome.duration_ms,
        },
    )
    return result


def _subscription_failure(subscription_id: int, *, error: str) -> None:
    locked = WebhookSubscription.objects.select_for_update().get(pk=subscription_id)
    locked.consecutive_failures += 1
    fields = ["consecutive_failures", "updated_at"]
    if locked.active and locked.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES:
        locked.active = False
        locked.disabled_at = timezone.now()
        locked.disabled_reason = (
            f"Disabled after {locked.consecutive_failures} deliveries in a row failed for good (last: {error})"[:300]
        )
        fields += ["active", "disabled_at", "disabled_reason"]
        transaction.on_commit(registry_rebuild)
        logger.warning(
            "webhook subscription disabled",
            extra={"subscription_id": subscription_id, "reason": locked.disabled_reason},
        )
    locked.save(update_fields=fields)


def deliveries_due_claim(*, limit: int = 500) -> list[int]:
    """For the sweep: pending deliveries whose time has come and that no task is on its way for, and sending
    ones whose worker's lease ran out. Each is leased for the task it gets (so the next sweep skips it)."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    ).order_by("next_attempt_at")
    ids = list(due.values_list("id", flat=True)[:limit])
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(
            lease_until=now + ENQUEUED_LEASE
        )
    return ids
