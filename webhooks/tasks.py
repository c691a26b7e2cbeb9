from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from sufrahbot.enqueue import BatchedEnqueue, delay_or_log
from sufrahbot.logging import current, log_context

from .processing import webhook_event_process, webhook_events_stale

# Processing a stored webhook: acknowledged only once done (a killed worker's task runs again, which is safe),
# retried with backoff while the database is away.
PROCESSING = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**PROCESSING)
def process_event(self, event_id: int) -> str:
    return webhook_event_process(event_id=event_id)


@shared_task(**PROCESSING)
def process_events(self, event_ids: list[int], request_ids: list[str] | None = None) -> list[str]:
    """Several webhooks admitted together (webhook_batches): each processed on its own, in order of arrival,
    under the id of the request that brought it. A retry runs the whole list again, which is safe: a
    processed event is skipped."""
    outcomes = []
    for event_id, request_id in zip(event_ids, request_ids or [""] * len(event_ids), strict=True):
        with log_context(task_id=current("task_id"), request_id=request_id or current("request_id")):
            outcomes.append(webhook_event_process(event_id=event_id))
    return outcomes


# The webhook request's enqueue: at once when idle; under load one publish, and one task, for the requests of
# each window (sufrahbot.enqueue).
webhook_batches = BatchedEnqueue(process_events, window=settings.WEBHOOK_BATCH_WINDOW_MS / 1000)


@shared_task
def replay_stale_events() -> int:
    """Re-queue verified webhooks that never got processed (the replay sweep)."""
    event_ids = webhook_events_stale()
    for event_id in event_ids:
        delay_or_log(process_event, event_id, event_id=event_id)
    return len(event_ids)
