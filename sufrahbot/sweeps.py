"""Periodic sweeps. Celery beat runs them when there is Redis; the embedded default runs this loop."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def run_due_sweeps_once() -> dict[str, object]:
    """Call every task of CELERY_BEAT_SCHEDULE once, in-process (used by the embedded loop)."""
    results: dict[str, object] = {}
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        task = import_string(entry["task"])
        try:
            # apply() runs the task inline with its usual context; its result is read without .get(), which
            # Celery refuses whenever its (process-global) "inside a task" flag is set by another thread.
            outcome = task.apply()
        finally:
            close_old_connections()
        if outcome.failed():
            logger.error("sweep failed", extra={"sweep": name, "error": repr(outcome.result)})
            results[name] = None
        else:
            results[name] = outcome.result
    return results


async def sweep_forever(interval: float | None = None) -> None:
    """The embedded stand-in for Celery beat, run as a task on the ASGI server's own event loop.

    The sweeps run in Django's sync thread via sync_to_async, so the events they publish go through
    async_to_sync back onto this loop, the one the in-memory channel layer and the websocket consumers
    live on (a separate thread with its own loop would hand them futures of the wrong loop).
    """
    interval = interval or settings.SWEEP_INTERVAL_SECONDS
    while True:
        await asyncio.sleep(interval)
        await sync_to_async(run_due_sweeps_once, thread_sensitive=True)()
