"""EventsConsumer.dispatch: forwarding events skips Channels' per-message close_old_connections (a thread hop
per socket per event); every other message still goes through Channels' own dispatch."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels import consumer as channels_consumer

from sufrahbot.consumers import EventsConsumer


@pytest.fixture
def hops(monkeypatch) -> list[int]:
    calls: list[int] = []

    async def counting():
        calls.append(1)

    monkeypatch.setattr(channels_consumer, "aclose_old_connections", counting)
    return calls


def _consumer(frames: list[dict]) -> EventsConsumer:
    socket = EventsConsumer()

    async def send_json(content, close=False):
        frames.append(content)

    socket.send_json = send_json
    return socket


def _event(n: int) -> dict:
    return {"type": "event.push", "event": {"type": "message.sent", "n": n}}


def test_events_are_forwarded_in_order_without_the_connection_check(hops):
    frames: list[dict] = []
    socket = _consumer(frames)
    async_to_sync(socket.dispatch)(_event(1))
    async_to_sync(socket.dispatch)({"type": "events.push", "messages": [_event(2), _event(3)]})
    assert [frame["n"] for frame in frames] == [1, 2, 3]
    assert hops == []


def test_other_messages_go_through_channels_dispatch(hops, monkeypatch):
    socket = _consumer([])
    handled = []

    async def access_recheck(message):
        handled.append(message["type"])

    monkeypatch.setattr(socket, "access_recheck", access_recheck)
    async_to_sync(socket.dispatch)({"type": "access.recheck"})
    assert handled == ["access.recheck"] and hops == [1]  # Channels' dispatch, its check included
    with pytest.raises(ValueError):
        async_to_sync(socket.dispatch)({"type": "no.such.handler"})
