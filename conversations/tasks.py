from __future__ import annotations

from celery import shared_task

from .services.delivery import message_deliver


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_message(self, message_id: int) -> str:
    """Send one queued message. Retries (with backoff and jitter) and throttling are decided by the
    service from the stored attempt count, so a redelivered task never sends twice."""
    outcome = message_deliver(message_id=message_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.result
