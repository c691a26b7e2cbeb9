"""WSGI entry point, for deployments that put HTTP on a WSGI server (gunicorn) and only /ws/ on ASGI."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings")

application = get_wsgi_application()
