"""Drive the events websocket of the real ASGI application (real Redis channel layer) from sync tests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from urllib.parse import urlencode

from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from sufrahbot.asgi import application

DASHBOARD_ORIGIN = "https://dash.sufrah.test"


def access_token(user) -> str:
    return str(AccessToken.for_user(user))


def events_socket(
    *, token: str | None = None, via: str = "subprotocol", origin: str | None = DASHBOARD_ORIGIN, **query
) -> WebsocketCommunicator:
    if token is not None and via == "query":
        query["token"] = token
    path = "/ws/events/" + (f"?{urlencode(query)}" if query else "")
    headers = [(b"origin", origin.encode())] if origin else []
    subprotocols = ["sufrah.jwt", token] if token is not None and via == "subprotocol" else []
    return WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)


async def close_code_of(socket: WebsocketCommunicator) -> int | None:
    """Connect and return the code the server closes with (None when it keeps the socket open)."""
    accepted, _ = await socket.connect()
    try:
        if not accepted:
            return None
        if await socket.receive_nothing(timeout=1):
            return None
        output = await socket.receive_output()
        return output.get("code") if output["type"] == "websocket.close" else None
    finally:
        await socket.disconnect()


@asynccontextmanager
async def subscribed(socket: WebsocketCommunicator):
    """An open socket, after the server's {"type": "subscribed"} frame: yields (socket, restaurant ids)."""
    accepted, subprotocol = await socket.connect()
    assert accepted
    try:
        frame = await socket.receive_json_from()
        assert frame["type"] == "subscribed", frame
        yield socket, frame["restaurants"]
    finally:
        await socket.disconnect()


async def frames_until_quiet(socket: WebsocketCommunicator, *, quiet: float = 0.3) -> list[dict]:
    """Every frame that arrives until the socket has been silent for `quiet` seconds."""
    frames = []
    while not await socket.receive_nothing(timeout=quiet):
        frames.append(await socket.receive_json_from())
    return frames
