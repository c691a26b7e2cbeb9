"""Websocket routes. The events consumer (dashboard realtime) is added with the API."""

from channels.routing import URLRouter

websocket_urlpatterns: list = []
websocket_application = URLRouter(websocket_urlpatterns)
