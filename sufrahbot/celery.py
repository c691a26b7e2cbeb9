"""The Celery app, its logging (the project's JSON lines, not Celery's own format), request ids carried
from the request that queued a task into the task's lines, and the heartbeat each worker writes."""

from __future__ import annotations

import logging.config
import os
import threading
from datetime import datetime

from celery import Celery, Task, bootsteps, signals
from celery.exceptions import Retry
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from sufrahbot.broker import REQUEST_ID_HEADER
from sufrahbot.db import connections_mark_released, connections_trust_recent
from sufrahbot.heartbeat import HEARTBEAT_INTERVAL_SECONDS, worker_beat, worker_gone
from sufrahbot.logging import _context, current
from sufrahbot.startup import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings")

logger = logging.getLogger(__name__)


class SufrahTask(Task):
    """Celery's Task, with retries that wait their backoff when tasks run in-process (the embedded mode).

    Eagerly applied, Celery runs a retry at once, whatever its countdown: a provider outage burnt all of a
    send's attempts in a quarter of a second. With EMBEDDED_RETRIES_WAIT the retry is handed to a timer
    thread that applies it after its countdown (or at its eta), as a worker would take it from the queue."""

    def retry(
        self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, max_retries=None, **options
    ):
        if not (self.request.is_eager and getattr(settings, "EMBEDDED_RETRIES_WAIT", False)):
            return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)
        try:
            super().retry(args, kwargs, exc, True, eta, countdown, max_retries, **options)
        except Retry as planned:
            when = planned.when
            if isinstance(when, datetime):
                delay = (when - timezone.now()).total_seconds()
            else:
                delay = float(when or self.default_retry_delay or 0)
            _apply_later(planned.sig, max(delay, 0.0), task=self.name)
            # sig=None: Celery's apply() takes the retry as done (state RETRY) instead of running it now.
            raise Retry(exc=exc, when=when, is_eager=True, sig=None) from None


def _apply_later(signature, delay: float, *, task: str) -> None:
    def run() -> None:
        try:
            signature.apply()
        except Exception:  # a retried task that fails hard is logged, as a worker would
            logger.exception("embedded retry failed", extra={"task": task})
        finally:
            connections.close_all()  # this thread's own connections

    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.name = f"retry-{task}"
    timer.start()


app = Celery("sufrahbot", task_cls=SufrahTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _use_project_logging(**kwargs) -> None:
    """Connected, this stops Celery configuring logging itself: Django's LOGGING (JSON lines) applies."""
    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs) -> None:
    request_id = current("request_id")
    if headers is not None and request_id and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


_task_contexts: dict[str, object] = {}


@signals.task_prerun.connect
def _enter_task_context(task_id: str | None = None, task=None, **kwargs) -> None:
    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    fields = {"request_id": request_id, "task_id": task_id, "task": getattr(task, "name", None)}
    _task_contexts[task_id] = _context.set({k: v for k, v in fields.items() if v})


@signals.task_postrun.connect
def _leave_task_context(task_id: str | None = None, **kwargs) -> None:
    token = _task_contexts.pop(task_id, None)
    if token is not None:
        try:
            _context.reset(token)
        except ValueError:  # set in another context (eager tasks nested in a request): leave it
            pass


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _freeze_startup_objects(**kwargs) -> None:
    """The worker's consuming process once its tasks are imported (worker_ready), and each prefork child as it
    starts (worker_process_init): sufrahbot.startup."""
    freeze_startup_objects()


@signals.task_prerun.connect
def _trust_recent_connections(task=None, **kwargs) -> None:
    if task is None or getattr(task.request, "is_eager", False):
        return
    connections_trust_recent()


@signals.task_postrun.connect
def _release_connections(task=None, **kwargs) -> None:
    """After each task, Django's own rules for a persistent connection (as at the end of a request): closed
    when it broke, had errors or is older than CONN_MAX_AGE, else kept, health-checked at its next use
    unless that comes within sufrahbot.db.RECENTLY_USED_SECONDS.

    Celery's Django fixup would close every connection before and after every task (settings
    CELERY_DB_REUSE_MAX keeps it from doing so): each send then paid for a new PostgreSQL connection, a
    sixth of an outbound worker's time. Eager tasks run inside the caller's transaction: left alone."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    close_old_connections()
    connections_mark_released()


class Heartbeat(bootsteps.StartStopStep):
    """Every few seconds the worker writes `<prefix>:worker:<hostname>` in Redis (with its queues), expiring
    after a few missed beats: /health/ reads these to tell whether each queue has a live worker."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker) -> None:
        selected = worker.app.amqp.queues.consume_from or worker.app.amqp.queues  # -Q narrows consume_from
        queues = sorted(selected.keys())
        worker_beat(hostname=worker.hostname, queues=queues)
        self.tref = worker.timer.call_repeatedly(
            HEARTBEAT_INTERVAL_SECONDS, worker_beat, kwargs={"hostname": worker.hostname, "queues": queues}
        )

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
        worker_gone(hostname=worker.hostname)


app.steps["worker"].add(Heartbeat)
