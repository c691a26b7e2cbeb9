"""Celery's Redis broker transport, with one Redis client per channel instead of one per command.

kombu's Redis channel builds a new `redis.Redis` client for every publish, every ack and every unacked-index
update (`Channel.conn_or_acquire`), and redis-py 8 fills ~170 response callbacks into a fresh dict each time it
builds one: about 60 µs of CPU each, a fifth of a task publish and paid three times a task (publish, receive,
ack). The clients all draw on the channel's one connection pool, and a redis-py client is safe to share between
threads (every command takes a connection from the pool), so the channel keeps one. Selected in settings with
CELERY_BROKER_TRANSPORT for redis:// URLs; a rediss:// URL keeps kombu's own (its TLS defaults are chosen by
the URL's scheme, which a transport given by path does not have).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from contextlib import contextmanager

import redis
from celery.utils.nodenames import anon_nodename
from celery.utils.saferepr import saferepr
from kombu.transport import redis as kombu_redis

from .heartbeat import redis_client
from .logging import current

# The task message header carrying the id of the request that queued it (sufrahbot.celery reads it back).
REQUEST_ID_HEADER = "sufrah_request_id"


class Channel(kombu_redis.Channel):
    _shared_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        shared = self._shared_client
        pool = self.pool
        if shared is None or shared.connection_pool is not pool:  # the pool is rebuilt after a disconnect
            shared = self._shared_client = self._create_client()
        yield shared


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = "sufrahbot.broker:Transport"
# Task options that change the message Celery writes (time limits, an expiry, a priority, a result to keep,
# compression): a task that sets any of them is published by Celery itself.
_MESSAGE_OPTIONS = ("time_limit", "soft_time_limit", "expires", "priority", "ignore_result", "compression")


class TaskPublisher:
    """Celery task messages (protocol 2, as `Task.delay` writes them) pushed straight onto the broker's list.

    `delay()` costs ~0.3-0.5 ms of CPU around its one LPUSH (option lookups in Celery's configuration view,
    building the message, kombu's retry wrapper and queue declaration, copying the exchange per publish),
    about as much as the rest of a webhook request, and every webhook batch and every reply pays it. The message
    here is the same one (tests/sufrahbot/test_broker.py compares it with Celery's, field by field, and a
    worker runs it): the same headers, including the request id sufrahbot.celery carries, the same JSON body
    in base64, to the queue the task's route names, on the anonymous exchange as Celery routes a direct
    queue. A task whose options change the message, or a broker other than this transport, goes through
    Celery. Arguments are not checked against the task's signature here (Celery's `typing` check): a wrong
    call fails in the worker.
    """

    def __init__(self) -> None:
        self._queues: dict[str, str | None] = {}
        self._origin = (0, "")

    def _queue(self, task) -> str | None:
        """The Redis list of the task's queue, or None when Celery must write the message itself."""
        try:
            return self._queues[task.name]
        except KeyError:
            queue = self._queues[task.name] = self._route(task)
            return queue

    @staticmethod
    def _route(task) -> str | None:
        if any(getattr(task, option, None) for option in _MESSAGE_OPTIONS):
            return None
        if (task.serializer or task.app.conf.task_serializer) != "json" or task.app.conf.task_compression:
            return None
        queue = task.app.amqp.router.route({}, task.name, (), {}, task).get("queue")
        if queue is None or queue.exchange.type != "direct" or queue.queue_arguments:
            return None
        return queue.name  # priority 0: kombu's Redis list is the queue's own name

    @staticmethod
    def _client(app) -> redis.Redis:
        options = app.conf.broker_transport_options or {}
        # A connection that drops is tried once more at once; then the caller logs it and the sweep re-queues
        # (sufrahbot.enqueue): a request never waits out a backoff for a broker that is down.
        return redis_client(
            app.conf.broker_url,
            connect_timeout=options.get("socket_connect_timeout"),
            socket_timeout=options.get("socket_timeout"),
            retries=1,
        )

    def _origin_name(self) -> str:
        pid, name = self._origin
        if pid != os.getpid():  # Celery's anon_nodename(), which asks for the host name every time
            self._origin = (os.getpid(), anon_nodename())
        return self._origin[1]

    def publish(self, task, args: tuple | list) -> str | None:
        """Queue task(*args) and return its id; None, with nothing written, when Celery must write this message
        (another broker, eager mode, a task whose options change it, or not a Celery task at all)."""
        task = _unproxied(task)
        app = getattr(task, "app", None)
        if app is None or app.conf.broker_transport != TRANSPORT or app.conf.task_always_eager:
            return None
        queue = self._queue(task)
        if queue is None:
            return None
        task_id = str(uuid.uuid4())
        parent = app.current_worker_task
        args = list(args)
        argsrepr = repr(tuple(args))  # Celery's saferepr, for the ids and id lists these tasks take
        if len(argsrepr) > app.amqp.argsrepr_maxsize:
            argsrepr = saferepr(tuple(args), app.amqp.argsrepr_maxsize)
        headers = {
            "lang": "py",
            "task": task.name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": (parent.request.root_id or parent.request.id) if parent else task_id,
            "parent_id": parent.request.id if parent else None,
            "argsrepr": argsrepr,
            "kwargsrepr": "{}",
            "origin": self._origin_name(),
            "ignore_result": False,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        }
        request_id = current("request_id")
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        body = json.dumps([args, {}, _EMBED]).encode()
        message = {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                "correlation_id": task_id,
                "reply_to": app.thread_oid,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        self._client(app).lpush(queue, json.dumps(message))
        return task_id


def _unproxied(task):
    """The task itself: @shared_task hands out a proxy that looks the task up on every attribute read."""
    get = getattr(task, "_get_current_object", None)
    return get() if get is not None else task


_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
task_publisher = TaskPublisher()
