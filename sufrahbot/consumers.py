"""The dashboard's live events: one websocket per client, joined to the groups of its restaurants.

Protocol (docs/events.md): on connect the client is subscribed to every restaurant it is a staff member
of, or to the one named by `?restaurant=<id>`; a {"action": "subscribe", "restaurant": id} frame narrows
to one restaurant later ({"restaurant": null} widens back to all). The server answers each subscription
with {"type": "subscribed", "restaurants": [...]} and then forwards every event published with
`sufrahbot.events.publish` to those restaurants.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model

from restaurants.models import Restaurant, StaffMembership

from .events import restaurant_group, user_group

logger = logging.getLogger(__name__)

# Application close codes (4000-4999 are free for applications; they mirror the HTTP statuses).
CLOSE_BAD_REQUEST = 4400  # `?restaurant=` is not an id
CLOSE_UNAUTHORIZED = 4401  # missing, invalid or expired token (also sent when the token expires mid-connection)
CLOSE_FORBIDDEN = 4403  # a restaurant the user does not belong to (at connect, or since: membership removed)


@database_sync_to_async
def _member_restaurant_ids(user) -> list[int]:
    return sorted(StaffMembership.objects.filter(user=user).values_list("restaurant_id", flat=True))


@database_sync_to_async
def _may_watch(user, restaurant_id: int) -> bool:
    # Read from the database on every request: the client's word (or a token claim) is never trusted.
    if user.is_superuser:
        return Restaurant.objects.filter(pk=restaurant_id).exists()
    return StaffMembership.objects.filter(user=user, restaurant_id=restaurant_id).exists()


@database_sync_to_async
def _still_allowed(user, restaurant_ids: list[int]) -> bool:
    """The user is active and may still watch every restaurant this socket is subscribed to."""
    fresh = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    if fresh is None:
        return False
    if fresh.is_superuser:
        return Restaurant.objects.filter(pk__in=restaurant_ids).count() == len(restaurant_ids)
    allowed = StaffMembership.objects.filter(user=fresh, restaurant_id__in=restaurant_ids).count()
    return allowed == len(restaurant_ids)


def _restaurant_id(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        restaurant_id = int(value)
    except (TypeError, ValueError):
        return None
    return restaurant_id if restaurant_id > 0 else None


# Group messages whose handlers only forward what they carry (no query: sufrahbot.events built the payload).
_DATABASE_FREE = frozenset({"event.push", "events.push"})


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope["user"]
        self.restaurant_ids: list[int] = []
        self._expiry_task: asyncio.Task | None = None
        self._recheck_task: asyncio.Task | None = None
        self._user_group: str | None = None
        # Accept before closing: a close sent before accept becomes an HTTP 403 and the browser never sees
        # the code. Echo the subprotocol the token came in, or browsers fail the handshake.
        await self.accept(subprotocol=self.scope.get("accept_subprotocol"))
        if not self.user.is_authenticated:
            logger.info("websocket refused", extra={"reason": self.scope.get("auth_error")})
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        requested = (query.get("restaurant") or [None])[0]
        if requested is None:
            await self._subscribe(await _member_restaurant_ids(self.user))
        else:
            restaurant_id = _restaurant_id(requested)
            if restaurant_id is None:
                await self.close(code=CLOSE_BAD_REQUEST)
                return
            if not await _may_watch(self.user, restaurant_id):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self._subscribe([restaurant_id])
        # Access is re-checked when it changes (restaurants.signals → sufrahbot.events.access_changed) and,
        # as a backstop for bulk updates that send no signal, every WEBSOCKET_ACCESS_RECHECK_SECONDS.
        self._user_group = user_group(self.user.pk)
        await self.channel_layer.group_add(self._user_group, self.channel_name)
        self._recheck_task = asyncio.create_task(self._recheck_periodically())
        expires_at = self.scope.get("token_expires_at")
        if expires_at is not None:
            self._expiry_task = asyncio.create_task(self._close_at(expires_at))

    async def disconnect(self, code):
        for task in (self._expiry_task, self._recheck_task):
            if task is not None:
                task.cancel()
        if self._user_group is not None:
            await self.channel_layer.group_discard(self._user_group, self.channel_name)

    async def access_recheck(self, message):
        """A group message from sufrahbot.events.access_changed: the user's access changed somewhere."""
        await self._close_unless_still_allowed()

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("action") != "subscribe":
            await self._error("bad_request", 'Unknown frame: send {"action": "subscribe", "restaurant": id}.')
            return
        if content.get("restaurant") is None:
            await self._subscribe(await _member_restaurant_ids(self.user))
            return
        restaurant_id = _restaurant_id(content.get("restaurant"))
        if restaurant_id is None:
            await self._error("bad_request", "`restaurant` must be a restaurant id.")
        elif not await _may_watch(self.user, restaurant_id):
            # The current subscription is kept; only the request is refused.
            await self._error("forbidden", "You are not a member of this restaurant.", restaurant=restaurant_id)
        else:
            await self._subscribe([restaurant_id])

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = await self.decode_json(text_data) if text_data else None
        except ValueError:
            content = None
        if content is None:
            await self._error("bad_request", "Frames must be JSON text.")
            return
        await self.receive_json(content, **kwargs)

    async def dispatch(self, message):
        """Channels closes stale database connections before every handler, through a thread hop. Forwarding
        an event reads no database, and with dashboards open that hop was a fifth of a web process's CPU (one
        per socket per event): the event handlers go straight; every other message as Channels does it."""
        if message.get("type") in _DATABASE_FREE:
            await getattr(self, get_handler_name(message))(message)
            return
        await super().dispatch(message)

    async def event_push(self, message):
        """A group message from sufrahbot.events.publish: forward the event as it is."""
        await self.send_json(message["event"])

    async def events_push(self, message):
        """The group messages of one transaction, sent together (sufrahbot.events): each in order."""
        for item in message["messages"]:
            await self.dispatch(item)

    async def _subscribe(self, restaurant_ids: list[int]) -> None:
        wanted = {restaurant_group(rid) for rid in restaurant_ids}
        for group in set(self.groups) - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in wanted - set(self.groups):
            await self.channel_layer.group_add(group, self.channel_name)
        # self.groups is what the base class leaves on disconnect.
        self.groups = sorted(wanted)
        self.restaurant_ids = sorted(set(restaurant_ids))
        await self.send_json({"type": "subscribed", "restaurants": self.restaurant_ids})

    async def _error(self, code: str, message: str, **details) -> None:
        await self.send_json({"type": "error", "error": {"code": code, "message": message, "details": details}})

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        # Stop events at once, before the client's disconnect comes back; it reconnects with a fresh token.
        await self._stop_and_close(CLOSE_UNAUTHORIZED)

    async def _recheck_periodically(self) -> None:
        interval = float(getattr(settings, "WEBSOCKET_ACCESS_RECHECK_SECONDS", 60))
        while True:
            await asyncio.sleep(interval)
            if await self._close_unless_still_allowed():
                return

    async def _close_unless_still_allowed(self) -> bool:
        if await _still_allowed(self.user, self.restaurant_ids):
            return False
        logger.info("websocket closed: access revoked", extra={"user_id": self.user.pk})
        await self._stop_and_close(CLOSE_FORBIDDEN)
        return True

    async def _stop_and_close(self, code: int) -> None:
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups = []
        self.restaurant_ids = []
        await self.close(code=code)
