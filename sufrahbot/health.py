"""GET /healthz: is this process able to do its work (database, and Redis when configured)?"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False


@lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)  # pooled: probes reuse it


def _redis_state() -> str:
    if not settings.REDIS_URL:
        return "not used (embedded)"
    import redis

    try:
        _redis_client(settings.REDIS_URL).ping()
        return "ok"
    except redis.RedisError:
        return "unreachable"


def health(request: HttpRequest) -> JsonResponse:  # noqa: ARG001
    checks = {"database": "ok" if _database_ok() else "unreachable", "redis": _redis_state()}
    healthy = "unreachable" not in checks.values()
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503)
