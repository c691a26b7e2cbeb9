"""Periodic sweeps. Celery beat runs them when there is Redis; the embedded default runs this loop."""

from __future__ import annotations

import logging
import threading
import time

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


def start_sweep_loop(interval: float | None = None) -> threading.Thread:
    interval = interval or settings.SWEEP_INTERVAL_SECONDS

    def loop() -> None:
        while True:
            time.sleep(interval)
            run_due_sweeps_once()

    thread = threading.Thread(target=loop, name="sufrah-sweeps", daemon=True)
    thread.start()
    return thread
