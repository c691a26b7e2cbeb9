from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from sufrahbot.enqueue import delay_or_log

from .processing import webhook_event_process, webhook_events_stale


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def process_event(self, event_id: int) -> str:
    return webhook_event_process(event_id=event_id)


@shared_task
def replay_stale_events() -> int:
    """Re-queue verified webhooks that never got processed (the replay sweep)."""
    event_ids = webhook_events_stale()
    for event_id in event_ids:
        delay_or_log(process_event, event_id, event_id=event_id)
    return len(event_ids)
