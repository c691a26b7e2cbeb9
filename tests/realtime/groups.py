"""Listening to restaurant (and user) groups from a test as a web process's websocket consumer does: the
channel, its group memberships and its receives all on one event loop, kept running in a thread.

The Redis pub/sub channel layer subscribes per event loop, so a channel made under one async_to_sync call
(a loop of its own, closed after) is gone by the next; a listener here keeps its loop, as a server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from typing import Any

from channels.layers import get_channel_layer

from sufrahbot.events import events_in


class GroupListener:
    def __init__(self, *groups: str) -> None:
        self.layer = get_channel_layer()
        self.groups = groups
        self.received: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-group-listener", daemon=True)
        self.thread.start()
        self.channel = self._run(self.layer.new_channel())
        for group in groups:
            self._run(self.layer.group_add(group, self.channel))
        # One receive loop for the listener's life, as a consumer has: the pub/sub layer drops a channel whose
        # receive() is cancelled (it takes that for the consumer leaving), so no receive is ever timed out.
        self.receiving = asyncio.run_coroutine_threadsafe(self._receive_forever(), self.loop)

    def _run(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _receive_forever(self) -> None:
        while True:
            self.received.put(await self.layer.receive(self.channel))

    def next_message(self, timeout: float = 2.0) -> dict[str, Any]:
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no group message within {timeout} s") from None

    def drain(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        """The group messages that arrived, in order, once none has come for `quiet` seconds."""
        messages = []
        while True:
            try:
                messages.append(self.received.get(timeout=quiet))
            except queue.Empty:
                return messages

    def events(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        """The events that arrived (a transaction's events come as one batch message)."""
        return [event for message in self.drain(quiet) for event in events_in(message)]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.receiving.cancel)
        for group in self.groups:
            with contextlib.suppress(Exception):  # a fault test may have stopped its Redis already
                self._run(self.layer.group_discard(group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()  # the layer closes this loop's Redis connections with it
