from __future__ import annotations

from celery import shared_task

from sufrahbot.enqueue import delay_or_log

from .services.delivery import message_deliver, messages_stranded
from .services.media import media_stranded, message_media_fetch


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_message(self, message_id: int) -> str:
    """Send one queued message. Retries (with backoff and jitter) and throttling are decided by the
    service from the stored attempt count, so a redelivered task never sends twice."""
    outcome = message_deliver(message_id=message_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.result


@shared_task
def resend_stranded_messages() -> int:
    """The stranded-send sweep: re-queue outbound messages whose task was lost or whose worker died."""
    message_ids = messages_stranded()
    for message_id in message_ids:
        delay_or_log(send_message, message_id, message_id=message_id)
    return len(message_ids)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def fetch_message_media(self, media_id: int) -> str:
    """Fetch one inbound file from its provider and keep it; the service bounds the attempts."""
    outcome = message_media_fetch(media_id=media_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.result


@shared_task
def refetch_stranded_media() -> int:
    """The media sweep: pending files whose task was lost (Redis down at enqueue, a killed worker)."""
    media_ids = media_stranded()
    for media_id in media_ids:
        delay_or_log(fetch_message_media, media_id, media_id=media_id)
    return len(media_ids)
