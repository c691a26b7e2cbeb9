"""Queueing a task without letting a broker outage fail the caller.

Everything enqueued here is also recorded in the database first (a verified WebhookEvent still `received`,
an outbound Message still `queued`), and a sweep re-queues what was never picked up. So when Redis is down,
the caller (a webhook that must answer 200, a staff reply) carries on, the failure is logged, and the
sweep delivers the work once Redis is back.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import Any

from django.conf import settings

from .broker import task_publisher
from .logging import current

logger = logging.getLogger("sufrahbot.enqueue")


def delay_or_log(task, *args: Any, **log_extra: Any) -> bool:
    """`task.delay(*args)`; on a broker error, log it (with what the sweep will pick up) and return False.
    On the project's Redis transport the message is written without Celery's publish path (sufrahbot.broker
    TaskPublisher: the same message at about half the CPU)."""
    try:
        if task_publisher.publish(task, args) is None:
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


class BatchedEnqueue:
    """Queue ids for a task that takes a list of them, published in batches by one thread per process.

    A task costs Celery ~0.4 ms of CPU to publish and 1.5-2 ms to receive, run and acknowledge in a worker
    (a no-op task on this 2-core machine), whatever it does: about what the rest of a webhook request costs.
    Ids handed here are published by a background thread, at most one publish every `window` seconds, up to
    `max_batch` ids a message. An id that comes after a quiet window goes out at once, alone; under load the
    ids of a window share one publish and one task. So an idle system adds no latency, and a busy one adds
    at most `window` and pays Celery's cost once for many messages (webhooks.tasks.process_events runs them
    one by one).

    The task is called as task(ids, request_ids): the request id each id was queued under (the logs of its
    processing carry it, as a task queued from the request itself would).

    Only for work that is recorded in the database first and picked up by a sweep when its message is lost
    (a process that dies with ids still here, a broker outage): the batch is a shortcut, never the only
    record. A negative window, or no broker (embedded, eager tests), publishes at once in the caller's thread.
    """

    def __init__(self, task, *, max_batch: int = 100, window: float = 0.005) -> None:
        self.task = task
        self.max_batch = max_batch
        self.window = window
        self._queue: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()
        self._pid = 0
        self._lock = threading.Lock()

    def add(self, item_id: int, **log_extra: Any) -> None:
        request_id = current("request_id") or ""
        if not self.batching():
            delay_or_log(self.task, [item_id], [request_id], **log_extra)
            return
        if self._pid != os.getpid():
            self._start()  # first use in this process (web servers fork their workers after import)
        self._queue.put((item_id, request_id))

    def batching(self) -> bool:
        return self.window >= 0 and not settings.CELERY_TASK_ALWAYS_EAGER

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.SimpleQueue()  # a forked copy of the parent's queue is not ours to send
            threading.Thread(target=self._run, name=f"enqueue-{self.task.name}", daemon=True).start()
            self._pid = os.getpid()
            atexit.register(self.flush)

    def _run(self) -> None:
        published_at = float("-inf")
        while True:
            batch = [self._queue.get()]
            wait = published_at + self.window - time.monotonic()
            if wait > 0:  # published within the window: let the ids of the rest of it join this one
                time.sleep(wait)
            batch += self._drain(self.max_batch - 1)
            self._publish(batch)
            published_at = time.monotonic()

    def _drain(self, limit: int) -> list[tuple[int, str]]:
        items: list[tuple[int, str]] = []
        while len(items) < limit:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _publish(self, batch: list[tuple[int, str]]) -> None:
        ids, request_ids = [item for item, _ in batch], [request_id for _, request_id in batch]
        delay_or_log(self.task, ids, request_ids, batch_size=len(batch))

    def flush(self) -> None:
        """Publish what is waiting now (at exit; the sweep would otherwise find it after its delay)."""
        while batch := self._drain(self.max_batch):
            self._publish(batch)
