from __future__ import annotations

from celery import shared_task

from . import sending


@shared_task(acks_late=True, reject_on_worker_lost=True)
def start_campaign(campaign_id: int) -> str:
    """Create the recipients and start sending (safe to run twice: recipients are created once)."""
    result = sending.campaign_start(campaign_id=campaign_id)
    if result == "started":
        send_campaign.delay(campaign_id)
    return result


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_campaign(campaign_id: int) -> str:
    """Send a while, then hand over to a fresh task (safe to run twice: recipients are claimed, messages
    carry idempotency keys)."""
    outcome = sending.campaign_send_run(campaign_id=campaign_id)
    if outcome.retry_in is not None:
        send_campaign.apply_async((campaign_id,), countdown=outcome.retry_in)
    return outcome.result


@shared_task
def start_due_campaigns() -> int:
    due = sending.campaigns_due()
    for campaign_id in due:
        start_campaign.delay(campaign_id)
    return len(due)
