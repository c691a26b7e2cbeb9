"""Which sender a webhook is for, answered from memory on the hot path.

Every inbound webhook names a sender (our number, or Meta's phone number id). Looking it up is a joined query
plus decrypting the sender's credentials (Fernet) on every request; with the route cached, admission needs no
query at all. The cache is per process and holds the decrypted credentials only in memory (never in Redis or
another shared cache), bounded in size, for SENDER_ROUTE_CACHE_SECONDS.

Staleness is bounded and safe:
- a change saved in this process (admin, API, services) clears the cache at once (post_save/post_delete);
- another process sees it within the TTL; a request that fails verification against a cached secret is checked
  again against the database before it is refused, so a rotated secret never refuses a good webhook;
- a sender deactivated in another process may still get a webhook admitted within the TTL: processing reads
  the sender from the database and skips inactive ones (webhooks.processing), so nothing is answered for it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from .models import Restaurant, Sender
from .selectors import sender_for_route, senders_for_account


@dataclass(frozen=True)
class SenderRoute:
    """What admitting a webhook needs of its sender: who it is and the secrets to verify the request with."""

    sender_id: int
    restaurant_id: int
    provider: str
    credentials: Mapping[str, str]

    @classmethod
    def of(cls, sender: Sender) -> SenderRoute:
        return cls(
            sender_id=sender.pk,
            restaurant_id=sender.restaurant_id,
            provider=sender.provider,
            credentials=MappingProxyType(dict(sender.credentials or {})),
        )


class _RouteCache:
    """A bounded LRU of routes with a time to live; thread-safe (web servers run several threads a process)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, tuple[float, SenderRoute]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> SenderRoute | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple, route: SenderRoute, ttl: float) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, route)
            self._entries.move_to_end(key)
            while len(self._entries) > settings.SENDER_ROUTE_CACHE_SIZE:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_cache = _RouteCache()


def sender_route(
    *, providers: Sequence[str], by: str, key: str, account_credential: str = "", fresh: bool = False
) -> SenderRoute | None:
    """The active sender a webhook route points at (see sender_for_route), from the cache unless `fresh`.

    Only found senders are cached: an unknown number costs its query each time, so random numbers cannot
    fill the cache; template news (by "account") is rare and always read.
    """
    ttl = settings.SENDER_ROUTE_CACHE_SECONDS
    cacheable = ttl > 0 and by in ("number", "routing_id")
    cache_key = (tuple(providers), by, key)
    if cacheable and not fresh:
        route = _cache.get(cache_key)
        if route is not None:
            return route
    sender = sender_for_route(providers=list(providers), by=by, key=key, account_credential=account_credential)
    if sender is None:
        return None
    route = SenderRoute.of(sender)
    if cacheable:
        _cache.put(cache_key, route, ttl)
    return route


def sender_routes(
    *, providers: Sequence[str], by: str, key: str, account_credential: str = "", fresh: bool = False
) -> list[SenderRoute]:
    """Every active sender a webhook route points at: the one of a number or routing id (cached, as
    sender_route), or each sender on a business account (restaurants may share one WhatsApp Business Account;
    template news is rare, so these are always read)."""
    if by == "account":
        senders = senders_for_account(providers=list(providers), account_id=key, account_credential=account_credential)
        return [SenderRoute.of(sender) for sender in senders]
    route = sender_route(providers=providers, by=by, key=key, account_credential=account_credential, fresh=fresh)
    return [route] if route is not None else []


def sender_routes_forget(**_: object) -> None:
    """Drop every cached route (a sender or restaurant changed: its number, secrets, or active flag)."""
    _cache.clear()


def sender_routes_cached() -> int:
    return len(_cache)


for _model in (Sender, Restaurant):
    post_save.connect(sender_routes_forget, sender=_model, dispatch_uid=f"sender-routes-{_model.__name__}-save")
    post_delete.connect(sender_routes_forget, sender=_model, dispatch_uid=f"sender-routes-{_model.__name__}-delete")
