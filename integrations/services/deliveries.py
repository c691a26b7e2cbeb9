"""Outgoing webhook deliveries: written with the change (the event sink), redelivered on request."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from sufrahbot.enqueue import delay_or_log

from ..catalogue import BY_TYPE, ENVELOPE_VERSION
from ..models import DeliveryStatus, EventSequence, WebhookDelivery, WebhookSubscription
from ..registry import restaurant_may_have_subscriptions
from ..tasks import deliver_webhook
from .sending import ENQUEUED_LEASE


def _next_sequence(*, restaurant_id: int, subject: str) -> int:
    """One more for `subject`, atomically (INSERT … ON CONFLICT … RETURNING): the row stays locked until the
    caller's transaction ends, so two events about one order get consecutive numbers in commit order."""
    table = EventSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (restaurant_id, subject, last) VALUES (%s, %s, 1) "
            f"ON CONFLICT (restaurant_id, subject) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [restaurant_id, subject],
        )
        return int(cursor.fetchone()[0])


def envelope_build(*, restaurant_id: int, event: dict[str, Any], sequence: int, subject: str) -> dict[str, Any]:
    """The versioned webhook body of a published event: its own keys become `data`."""
    data = {key: value for key, value in event.items() if key not in ("type", "restaurant_id")}
    return {
        "type": event["type"],
        "id": f"evt_{uuid.uuid4().hex}",
        "created_at": timezone.now().isoformat(),
        "restaurant_id": restaurant_id,
        "version": ENVELOPE_VERSION,
        "sequence": sequence,
        "subject": subject,
        "data": data,
    }


def deliveries_record(restaurant_id: int, event: dict[str, Any]) -> list[WebhookDelivery]:
    """The event sink (settings.SUFRAH_EVENT_SINKS): one delivery row per active subscription that wants the
    event, in the caller's transaction; their tasks are queued once it commits. A restaurant without any
    subscription (most of them, most of the time) costs one Redis lookup and no SQL."""
    if not restaurant_may_have_subscriptions(restaurant_id):
        return []
    wanted = [
        subscription
        for subscription in WebhookSubscription.objects.filter(restaurant_id=restaurant_id, active=True).only(
            "id", "events"
        )
        if event["type"] in subscription.events
    ]
    if not wanted:
        return []
    subject = BY_TYPE[event["type"]].subject_of(event)
    with transaction.atomic():
        sequence = _next_sequence(restaurant_id=restaurant_id, subject=subject)
        envelope = envelope_build(restaurant_id=restaurant_id, event=event, sequence=sequence, subject=subject)
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        now = timezone.now()
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    restaurant_id=restaurant_id,
                    subscription_id=subscription.pk,
                    event_id=envelope["id"],
                    event_type=event["type"],
                    body=body,
                    next_attempt_at=now,
                    lease_until=now + ENQUEUED_LEASE,
                )
                for subscription in wanted
            ]
        )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


def _enqueue(ids: list[int]) -> None:
    for delivery_id in ids:
        # A broker outage loses nothing: the row is pending and the sweep queues it when its lease ends.
        delay_or_log(deliver_webhook, delivery_id, delivery_id=delivery_id)


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send this delivery again now (same event id and body, a fresh signature), whatever became of it."""
    return deliveries_redeliver(subscription=delivery.subscription, ids=[delivery.pk])[0]


def deliveries_redeliver_since(*, subscription: WebhookSubscription, since: datetime) -> int:
    """Send again every delivery of the subscription created at or after `since`. Returns how many."""
    ids = list(
        WebhookDelivery.objects.filter(subscription=subscription, created_at__gte=since)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return len(deliveries_redeliver(subscription=subscription, ids=ids)) if ids else 0


def deliveries_redeliver(*, subscription: WebhookSubscription, ids: list[int]) -> list[WebhookDelivery]:
    now = timezone.now()
    with transaction.atomic():
        rows = WebhookDelivery.objects.filter(subscription=subscription, pk__in=ids)
        # A delivery being sent right now finishes its attempt first; the rest are due at once.
        rows.exclude(status=DeliveryStatus.SENDING, lease_until__gt=now).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=now + ENQUEUED_LEASE,
            updated_at=now,
        )
        transaction.on_commit(lambda: _enqueue(list(ids)))
        return list(WebhookDelivery.objects.filter(subscription=subscription, pk__in=ids).order_by("id"))
