"""The single path for realtime events: every app calls `publish(restaurant_id, event)`.

Events are sent after the surrounding transaction commits, to the Channels group `restaurant.<id>`,
from web processes and Celery workers alike. Before that, inside the caller's transaction, every sink named in
settings.SUFRAH_EVENT_SINKS gets the event (the outgoing webhooks write their delivery rows there, so an event
of a rolled-back change leaves no delivery); this module imports no app, the sinks are found by name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.module_loading import import_string

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


def restaurant_group(restaurant_id: int) -> str:
    return f"restaurant.{int(restaurant_id)}"


def user_group(user_id: int) -> str:
    return f"user.{int(user_id)}"


def access_changed(user_id: int) -> None:
    """After commit, tell the user's live sockets to re-check access (a membership went, the user was
    deactivated): each one that lost a restaurant it watches is closed with 4403."""
    transaction.on_commit(lambda: _send(user_group(user_id), {"type": "access.recheck"}))


def publish(restaurant_id: int, event: dict[str, Any]) -> None:
    """Broadcast `event` ({"type": ..., ...}) to the restaurant's dashboard clients after commit."""
    if event.get("type") not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event.get('type')!r}")
    # Round-trip through JSON now so a non-serialisable payload fails at the call site, not in a consumer.
    payload = json.loads(json.dumps({**event, "restaurant_id": int(restaurant_id)}, cls=DjangoJSONEncoder))
    # In the caller's transaction: what a sink writes commits or rolls back with the change itself.
    for sink in event_sinks():
        sink(int(restaurant_id), payload)
    message = {"type": "event.push", "event": payload}
    transaction.on_commit(lambda: _send(restaurant_group(restaurant_id), message))


SEND_TIMEOUT_SECONDS = 5.0


class _SenderLoop:
    """One event loop per process, in a daemon thread, that sync code hands group_sends to.

    async_to_sync would start a fresh loop for every event, and channels_redis keeps its Redis connections
    per loop, so each event paid for a new connection (about 3 ms against 0.2 ms here). Created lazily and
    per pid, so a forked Celery worker child gets its own.
    """

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _pid: int | None = None

    @classmethod
    def run(cls, coroutine: Coroutine, timeout: float) -> None:
        with cls._lock:
            if cls._loop is None or cls._pid != os.getpid():
                cls._loop, cls._pid = asyncio.new_event_loop(), os.getpid()
                threading.Thread(target=cls._loop.run_forever, name="sufrah-events", daemon=True).start()
            loop = cls._loop
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    payload = message.get("event", message)
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # The in-memory layer lives on the ASGI server's own loop: async_to_sync hops back onto it.
            async_to_sync(layer.group_send)(group, message)
        else:
            _SenderLoop.run(layer.group_send(group, message), SEND_TIMEOUT_SECONDS)
    except Exception:  # a dashboard hiccup must never fail the business transaction
        logger.exception("event publish failed", extra={"event_type": payload.get("type")})
    else:
        logger.debug("event published", extra={"event_type": payload.get("type"), "group": group})
