"""Which restaurants have an active webhook subscription: a Redis set, so publishing an event of a restaurant
without one costs no SQL at all (the hot paths' query counts stay as they were).

The set always holds the member "0" once built, so "missing" (a flushed Redis) is told apart from "empty":
a missing set means "ask the database" until the sweep rebuilds it. Restaurants are added at once when a
subscription is made or switched on (an extra member only costs a query); they are taken out only by a
rebuild from the database (after a change commits, and on every sweep), which keeps it from going wrong
for long. Without Redis (the embedded default) the database is always asked.
"""

from __future__ import annotations

import logging

from django.conf import settings

from sufrahbot.events import unit_answer
from sufrahbot.heartbeat import redis_client

from .models import WebhookSubscription

logger = logging.getLogger(__name__)
SENTINEL = "0"


def registry_key() -> str:
    return f"{settings.CHANNELS_PREFIX}:webhook-restaurants"


def _redis():
    return redis_client(settings.REDIS_URL, connect_timeout=1, socket_timeout=1) if settings.REDIS_URL else None


def restaurant_may_have_subscriptions(restaurant_id: int) -> bool:
    """False only when the set is known and says so; any doubt (no Redis, no set, an error) asks the database.
    Asked once per publishing unit (a webhook's processing publishes three events: one Redis round trip, not
    three)."""
    return unit_answer(("webhook-registry", int(restaurant_id)), lambda: _registry_says(restaurant_id))


def _registry_says(restaurant_id: int) -> bool:
    client = _redis()
    if client is None:
        return True
    try:
        # One command for both questions: the sentinel is in the set exactly when the set is built.
        built, member = client.smismember(registry_key(), [SENTINEL, str(restaurant_id)])
    except Exception:
        logger.warning("webhook registry unreadable; asking the database", exc_info=True)
        return True
    return not built or bool(member)


def registry_add(restaurant_id: int) -> None:
    client = _redis()
    if client is None:
        return
    try:
        if client.exists(registry_key()):
            client.sadd(registry_key(), str(restaurant_id))
    except Exception:
        logger.warning("webhook registry not updated", exc_info=True)


def registry_rebuild() -> int:
    """Replace the set with what the database says; returns how many restaurants have subscriptions."""
    ids = sorted(
        set(WebhookSubscription.objects.filter(active=True).values_list("restaurant_id", flat=True).distinct())
    )
    client = _redis()
    if client is None:
        return len(ids)
    temporary = registry_key() + ":building"
    try:
        pipe = client.pipeline()
        pipe.delete(temporary)
        pipe.sadd(temporary, SENTINEL, *[str(i) for i in ids])
        pipe.rename(temporary, registry_key())
        pipe.execute()
    except Exception:
        logger.warning("webhook registry rebuild failed", exc_info=True)
    return len(ids)
