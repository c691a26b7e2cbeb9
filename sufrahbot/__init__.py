from .metrics_files import files_key_by_host

files_key_by_host()  # before any metric is made: settings, the ASGI app and Celery all load this package first

from .celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
