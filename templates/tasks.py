from __future__ import annotations

from celery import shared_task

from .selectors import templates_to_sync
from .services import template_sync


@shared_task(acks_late=True)
def sync_submitted_templates() -> int:
    """Ask the providers about every template still in review (safe to run twice: it only reads them)."""
    ids = templates_to_sync()
    for template_id in ids:
        template_sync(template_id=template_id)
    return len(ids)
