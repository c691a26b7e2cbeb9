from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_due_prompts() -> int:
    """The rating-prompt sweep (beat, every 30 s). Safe to run twice at once: prompts are claimed with
    SKIP LOCKED and each is sent once."""
    return services.rating_prompts_send_due()
