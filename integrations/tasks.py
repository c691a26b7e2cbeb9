"""Outgoing webhook tasks, on their own queue (webhooks_out): a slow or dead receiver never delays the bot."""

from __future__ import annotations

from celery import shared_task

from sufrahbot.enqueue import delay_or_log

from .registry import registry_rebuild
from .services.sending import deliveries_due_claim, delivery_attempt


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt. Safe twice: the delivery is claimed first; a retry is due at a time the sweep honours."""
    return delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_due_webhooks() -> int:
    """The sweep (beat): queue the retries whose time has come and deliveries whose task was lost; refresh
    the registry of restaurants with subscriptions (integrations.registry)."""
    registry_rebuild()
    ids = deliveries_due_claim()
    for delivery_id in ids:
        delay_or_log(deliver_webhook, delivery_id, delivery_id=delivery_id)
    return len(ids)
