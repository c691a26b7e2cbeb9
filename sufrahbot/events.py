"""The single path for realtime events: every app calls `publish(restaurant_id, event)`.

Events are sent after the surrounding transaction commits, to the Channels group `restaurant.<id>`,
from web processes and Celery workers alike. The events one transaction publishes go out together: one
group_send per group, in the order they were published ({"type": "events.push", "events": [...]}, or the
single-event "event.push" when there is one), so a message and its conversation update cost one Redis round
trip instead of several blocking ones.
Before that, inside the caller's transaction, every sink named in settings.SUFRAH_EVENT_SINKS gets the event
(the outgoing webhooks write their delivery rows there, so an event of a rolled-back change leaves no
delivery); this module imports no app, the sinks are found by name.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.module_loading import import_string
from redis.exceptions import ConnectionError as RedisConnectionError

from sufrahbot.heartbeat import redis_client

logger = logging.getLogger(__name__)

EVENT_TYPES = {
    "message.received",
    "message.sent",
    "message.status",
    "conversation.updated",
    "order.created",
    "order.updated",
    "template.updated",
    "delivery.started",
    "delivery.completed",
    "campaign.progress",
    "rating.received",
    "menu.updated",
    "sender.connected",
    "sender.disconnected",
}

EventSink = Callable[[int, dict[str, Any]], None]
_sinks_loaded: tuple[tuple[str, ...], list[EventSink]] = ((), [])


def event_sinks() -> list[EventSink]:
    """The callables of settings.SUFRAH_EVENT_SINKS, imported once (again if the setting changes, as in tests)."""
    global _sinks_loaded
    names = tuple(getattr(settings, "SUFRAH_EVENT_SINKS", ()))
    if names != _sinks_loaded[0]:
        _sinks_loaded = (names, [import_string(name) for name in names])
    return _sinks_loaded[1]


T = TypeVar("T")
_unit_answers: ContextVar[dict[Hashable, Any] | None] = ContextVar("sufrah_publishing_unit", default=None)


@contextmanager
def publishing_unit() -> Iterator[None]:
    """One piece of work that publishes several events (a webhook's processing: the customer's message, the
    conversation's update, the bot's reply). What a sink asks about a restaurant through `unit_answer` is
    asked once in it instead of once per event. A change that lands during the unit (a subscription made
    in those milliseconds) is seen by the next unit, as it would be by an event published a moment earlier."""
    token = _unit_answers.set({}) if _unit_answers.get() is None else None  # nested: the outer unit's
    try:
        yield
    finally:
        if token is not None:
            _unit_answers.reset(token)


def unit_answer(key: Hashable, ask: Callable[[], T]) -> T:
    """`ask()`, once per publishing unit for each key; every time outside one."""
    answers = _unit_answers.get()
    if answers is None:
        return ask()
    if key not in answers:
        answers[key] = ask()
    return answers[key]


def restaurant_group(restaurant_id: int) -> str:
    return f"restaurant.{int(restaurant_id)}"


def user_group(user_id: int) -> str:
    return f"user.{int(user_id)}"


def access_changed(user_id: int) -> None:
    """After commit, tell the user's live sockets to re-check access (a membership went, the user was
    deactivated): each one that lost a restaurant it watches is closed with 4403."""
    _after_commit(user_group(user_id), {"type": "access.recheck"})


def events_in(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a group message carries, in order (one "event.push", or an "events.push" batch)."""
    if message.get("type") == "events.push":
        return [event for item in message["messages"] for event in events_in(item)]
    return [message["event"]] if "event" in message else []


def publish(restaurant_id: int, event: dict[str, Any]) -> None:
    """Broadcast `event` ({"type": ..., ...}) to the restaurant's dashboard clients after commit."""
    if event.get("type") not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event.get('type')!r}")
    # Round-trip through JSON now so a non-serialisable payload fails at the call site, not in a consumer.
    payload = json.loads(json.dumps({**event, "restaurant_id": int(restaurant_id)}, cls=DjangoJSONEncoder))
    # In the caller's transaction: what a sink writes commits or rolls back with the change itself.
    for sink in event_sinks():
        sink(int(restaurant_id), payload)
    _after_commit(restaurant_group(restaurant_id), {"type": "event.push", "event": payload})


class _Batch:
    """The group messages of one transaction, sent together after it commits.

    Each message is added by its own on_commit callback, so one published inside a savepoint that rolls back
    is dropped with it, as Django drops the callback. The batch is sent by a flush callback appended after
    the message's: each publish appends a fresh one and the earlier ones stand down (Django's list is only
    ever appended to, which captureOnCommitCallbacks relies on).
    """

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.flush: Callable[[], None] | None = None  # the callback that sends the batch (the last one added)
        self.pending = False


_local = threading.local()


def _pending() -> list[_Batch]:
    if not hasattr(_local, "pending"):
        _local.pending = []
    return _local.pending


def _after_commit(group: str, message: dict[str, Any]) -> None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _flush_pending()  # autocommit: anything already committed goes first, then this, at once
        _send_batch([(group, message)])
        return
    hooks = connection.run_on_commit
    batch: _Batch | None = getattr(_local, "batch", None)
    if batch is None or not any(entry[1] is batch.flush for entry in hooks):
        batch = _local.batch = _Batch()  # a new transaction (or the last one rolled back)

    def collect() -> None:
        batch.messages.append((group, message))
        if not batch.pending:
            batch.pending = True
            _pending().append(batch)

    def flush() -> None:
        if batch.flush is flush:  # only the last flush of the batch sends it
            _flush_pending()

    transaction.on_commit(collect)
    batch.flush = flush
    # Not tied to the savepoints open now: the batch goes out even if a savepoint that published rolls back
    # (its messages went with their callbacks). The entry shape transaction.on_commit itself appends.
    hooks.append((set(), flush, False))


def _flush_pending() -> None:
    """Send every batch whose messages were collected, oldest first: a transaction run by an earlier
    batch's callbacks (an inline task) sends after the events that came before it."""
    pending, _local.pending = _pending(), []
    for batch in pending:
        messages, batch.messages, batch.pending = batch.messages, [], False
        _send_batch(messages)


def _send_batch(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """One group_send per group (each group's messages in publish order, groups in order of first use), all
    in one hop to the sender loop."""
    _send(_merged(messages))


SEND_TIMEOUT_SECONDS = 5.0


class _SenderLoop:
    """One event loop per process, in a daemon thread, that sync code hands group_sends to.

    async_to_sync would start a fresh loop for every event, and channels_redis keeps its Redis connections
    per loop, so each event paid for a new connection (about 3 ms against 0.2 ms here). Created lazily and
    per pid, so a forked Celery worker child gets its own.

    Sends from several threads at once (the outbound pool's threads, each announcing its message.sent) go
    out together, as a group commit: a caller's sends join the batch being gathered while the previous one is
    in flight, and each caller still returns once its own events were handed to Redis. A thread alone
    sends at once, as before; under load one group_send carries many sends' events instead of one each.
    """

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _pid: int | None = None
    _queue: list[tuple[list[tuple[str, dict[str, Any]]], concurrent.futures.Future]] = []
    _draining = False

    @classmethod
    def _loop_here(cls) -> asyncio.AbstractEventLoop:
        """The process's loop, started on first use (called with the lock held)."""
        if cls._loop is None or cls._pid != os.getpid():
            cls._loop, cls._pid = asyncio.new_event_loop(), os.getpid()
            cls._queue, cls._draining = [], False  # a forked child inherits none of its parent's batch
            threading.Thread(target=cls._loop.run_forever, name="sufrah-events", daemon=True).start()
        return cls._loop

    @classmethod
    def send(cls, layer, sends: list[tuple[str, dict[str, Any]]], timeout: float) -> None:
        done: concurrent.futures.Future = concurrent.futures.Future()
        with cls._lock:
            loop = cls._loop_here()
            cls._queue.append((sends, done))
            start, cls._draining = not cls._draining, True
        if start:
            asyncio.run_coroutine_threadsafe(cls._drain(layer), loop)
        done.result(timeout)

    @classmethod
    async def _drain(cls, layer) -> None:
        while True:
            with cls._lock:
                batch, cls._queue = cls._queue, []
                if not batch:
                    cls._draining = False
                    return
            try:
                await _group_sends(layer, _merged([send for sends, _ in batch for send in sends]))
            except Exception as exc:  # every caller of this batch logs it
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)


class DirectPublisher:
    """channels_redis's pub/sub group_send, done from the calling thread with a synchronous Redis client.

    On that layer a group message is one PUBLISH of the layer's serialized message to
    `<prefix>__group__<group>`, on the shard the name hashes to (channels_redis.pubsub), and that is what this
    writes (the layer's own serializer, the same channel), so every process's subscribers get it as before. It
    skips the hop to the sender loop's thread and redis.asyncio's command path (two thread switches and the
    loop's wake-up, per transaction that published). Hosts given as bare URLs only; a sentinel or host/port
    configuration, or one with connection options of its own, keeps the loop. After a Redis restart redis-py
    replaces the dead pooled connection when it takes it from the pool; a connection that drops during the
    PUBLISH is tried once more, with no backoff; while Redis is down a publish gives up within the socket
    timeouts (and is logged, as any failed publish).
    """

    CONNECT_TIMEOUT_SECONDS = 1.0
    SOCKET_TIMEOUT_SECONDS = 2.0

    @staticmethod
    def _addresses(layer) -> list[str] | None:
        """The layer's hosts as URLs (its CONFIG, as its per-loop layers read it), or None when one is given
        another way (host/port, sentinels, extra connection options)."""
        hosts = decode_hosts(layer._kwargs.get("hosts"))
        return [host["address"] for host in hosts] if all(host.keys() == {"address"} for host in hosts) else None

    @classmethod
    def serves(cls, layer) -> bool:
        return isinstance(layer, RedisPubSubChannelLayer) and cls._addresses(layer) is not None

    @classmethod
    def send(cls, layer, sends: list[tuple[str, dict[str, Any]]]) -> None:
        prefix = layer._kwargs.get("prefix", "asgi")
        addresses = cls._addresses(layer)
        for group, message in sends:  # in order: a client in two groups sees them as published
            channel = f"{prefix}__group__{group}"
            address = addresses[_consistent_hash(channel, len(addresses))]
            client = redis_client(
                address,
                connect_timeout=cls.CONNECT_TIMEOUT_SECONDS,
                socket_timeout=cls.SOCKET_TIMEOUT_SECONDS,
                retries=1,
            )
            client.publish(channel, layer.serialize(message))


def _merged(sends: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One group message per group (groups in order of first use), its events in the order they came."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in sends:
        items = message["messages"] if message["type"] == "events.push" else [message]
        by_group.setdefault(group, []).extend(items)
    return [
        (group, items[0] if len(items) == 1 else {"type": "events.push", "messages": items})
        for group, items in by_group.items()
    ]


def _event_types(message: dict[str, Any]) -> list[str]:
    if message["type"] == "events.push":
        return [t for m in message["messages"] for t in _event_types(m)]
    return [message.get("event", message).get("type", "")]


async def _group_sends(layer, sends: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in sends:  # in order: a client in two groups sees them as published
        try:
            await layer.group_send(group, message)
        except RedisConnectionError:
            # A connection Redis dropped while it was away (a restart, a failover) fails once, on its next use,
            # and is replaced then: sent again once, the first event after Redis is back is not lost. (The
            # worst case is a second copy of it; clients key events by their ids.)
            await layer.group_send(group, message)


def _send(sends: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    types = [t for _, message in sends for t in _event_types(message)]
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # The in-memory layer lives on the ASGI server's own loop: async_to_sync hops back onto it.
            async_to_sync(_group_sends)(layer, sends)
        elif DirectPublisher.serves(layer):
            DirectPublisher.send(layer, sends)
        else:
            _SenderLoop.send(layer, sends, SEND_TIMEOUT_SECONDS)
    except Exception:  # a dashboard hiccup must never fail the business transaction
        logger.exception("event publish failed", extra={"event_type": ",".join(types)})
    else:
        logger.debug("event published", extra={"event_type": ",".join(types), "groups": [g for g, _ in sends]})
