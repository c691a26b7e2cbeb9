"""The single path for realtime events: every app calls `publish(restaurant_id, event)`.

Events are sent after the surrounding transaction commits, to the Channels group `restaurant.<id>`,
from web processes and Celery workers alike.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_TYPES = {
    "message.received",
    "message.sent",
    "message.status",
    "conversation.updated",
    "order.created",
    "order.updated",
}


def restaurant_group(restaurant_id: int) -> str:
    return f"restaurant.{int(restaurant_id)}"


def publish(restaurant_id: int, event: dict[str, Any]) -> None:
    """Broadcast `event` ({"type": ..., ...}) to the restaurant's dashboard clients after commit."""
    if event.get("type") not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event.get('type')!r}")
    # Round-trip through JSON now so a non-serialisable payload fails at the call site, not in a consumer.
    payload = json.loads(json.dumps({**event, "restaurant_id": int(restaurant_id)}, cls=DjangoJSONEncoder))
    transaction.on_commit(lambda: _send(restaurant_id, payload))


def _send(restaurant_id: int, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(restaurant_group(restaurant_id), {"type": "event.push", "event": payload})
    except Exception:  # noqa: BLE001 - a dashboard hiccup must never fail the business transaction
        logger.exception("event publish failed", extra={"event_type": payload.get("type")})
    else:
        logger.debug("event published", extra={"event_type": payload.get("type"), "restaurant_id": restaurant_id})
