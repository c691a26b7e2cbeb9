"""The ASGI application: websockets through Channels, HTTP through Django.

With Redis (the production config) HTTP requests run Django's WSGI handler on a fixed pool of
WEB_THREADS threads per process (sufrahbot.wsgi_pool, one hand-off each way): no new thread per request, so
persistent database connections stay bounded (one per thread) and the asgiref hop that cost a third of the
server's CPU is gone.
Embedded, HTTP stays on Django's ASGI handler, whose single sync thread shares the server's event loop
with the in-memory channel layer.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings")

from channels.routing import ProtocolTypeRouter
from django.conf import settings
from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from sufrahbot.routing import websocket_application  # noqa: E402
from sufrahbot.startup import freeze_startup_objects  # noqa: E402


def _http_application():
    if settings.TASKS_IN_PROCESS:
        return django_asgi_app
    from django.core.wsgi import get_wsgi_application

    from sufrahbot.wsgi_pool import ThreadPoolWSGI

    return ThreadPoolWSGI(get_wsgi_application(), workers=settings.WEB_THREADS)


application = ProtocolTypeRouter({"http": _http_application(), "websocket": websocket_application})
freeze_startup_objects()  # each server process imports this once, before its first request
