"""Queueing a task without letting a broker outage fail the caller.

Everything enqueued here is also recorded in the database first (a verified WebhookEvent still `received`,
an outbound Message still `queued`), and a sweep re-queues what was never picked up. So when Redis is down,
the caller (a webhook that must answer 200, a staff reply) carries on, the failure is logged, and the
sweep delivers the work once Redis is back.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("sufrahbot.enqueue")


def delay_or_log(task, *args: Any, **log_extra: Any) -> bool:
    """`task.delay(*args)`; on a broker error, log it (with what the sweep will pick up) and return False."""
    try:
        task.delay(*args)
    except Exception as exc:  # kombu/redis raise several types; none may fail the caller
        logger.error(
            "enqueue failed; the sweep will pick it up",
            extra={
                "task": task.name,
                "task_args": list(args),
                "error": f"{type(exc).__name__}: {exc}"[:500],
                **log_extra,
            },
        )
        return False
    return True
