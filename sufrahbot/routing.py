"""Websocket routes, behind the Origin check and JWT authentication (sufrahbot/ws_auth.py)."""

from channels.routing import URLRouter
from django.urls import path

from .consumers import EventsConsumer
from .ws_auth import websocket_guard

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
]
websocket_application = websocket_guard(URLRouter(websocket_urlpatterns))
